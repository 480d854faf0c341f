"""Content (flows 14-16) around `crm.content_posts`: drafts.py proposes the week's posts from the catalog (the
`content_drafts` asset, `content_job` and its Monday schedule); publishing.py raises the posts that are due."""
