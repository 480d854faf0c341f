"""Definitions by domain: crm_tables (the serving layer's tables as external assets), contacts (flows 18-20)."""
