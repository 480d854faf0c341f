"""The content generator (flow 14): the week's post ideas from the catalog, their captions (local templates in
Spanish and English, or an LLM held to the catalog's facts) and when each one goes out.

Pure library: plain data in (product dicts, sales counts), plain data out. Reading the catalog and writing
`crm.content_posts` is the caller's job (orchestration/defs/content/drafts.py).
"""
