"""Contact cleaning and enrichment (flows 19 and 20): pure functions over pandas frames.

clean.clean_contacts → enrich.enrich_contacts; quality holds the asset-check predicates; phones, emails, names,
places and junk are the per-value rules (each cached per distinct raw value); synthetic makes dirty test data.
No FastAPI or Dagster here: the Dagster assets wrap these functions.
"""
