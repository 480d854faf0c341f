"""LLM providers behind the Analyzer protocol, chained in front of the local models.

Nothing is imported here on purpose: importing ml.llm (or ml.llm.chain) must not load a provider SDK.
Entry points: ml.llm.chain.build_chain / AnalyzerChain, ml.llm.base (protocol, records, errors).
"""
