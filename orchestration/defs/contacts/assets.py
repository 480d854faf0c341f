"""Flows 18-20 as assets: contacts_clean → contacts_golden (clusters) and contacts_enriched. Thin: the logic is
in ml.contacts and ml.dedup and tested there; these read the crm tables, call it, and write `warehouse`.
(No `from __future__ import annotations`: Dagster reads the config classes from the annotations.)"""


import dagster as dg
import pandas as pd

from ml.contacts.clean import clean_contacts
from ml.contacts.enrich import enrich_contacts
from ml.dedup.engine import deduplicate
from ml.dedup.survivorship import apply_unmerges, golden_records
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse_io import read_frame, replace_table

CONTACTS_SQL = """
SELECT c.id AS contact_id, c.display_name AS full_name, c.first_name, c.last_name,
       coalesce(c.phone_e164, (SELECT '+' || i.external_id FROM crm.contact_identities i
                               WHERE i.contact_id = c.id AND i.kind = 'wa_id' ORDER BY i.id LIMIT 1)) AS phone,
       c.email, c.country, c.city, c.source_channel, c.created_at, c.last_seen_at
FROM crm.contacts c ORDER BY c.id
"""
MESSAGES_SQL = """
SELECT m.contact_id, m.channel, m.direction, m.sent_at, d.language
FROM crm.messages m LEFT JOIN crm.intent_detections d ON d.message_id = m.id
WHERE m.contact_id IS NOT NULL
"""
ORDERS_SQL = "SELECT contact_id, total, placed_at, status FROM crm.orders"
# Roles of contacts_clean's columns for the probabilistic model (verified phone and email also link exactly).
DEDUP_FIELDS = {"first_name_clean": "first_name", "last_name_clean": "last_name", "phone_e164": "phone",
                "email_normalized": "email", "city_clean": "city"}


class CleanConfig(dg.Config):
    default_region: str = "PA"  # phones without a country code are read as this region's


class DedupConfig(dg.Config):
    threshold: float = 0.9


@dg.asset(deps=[dg.AssetKey(["crm", "contacts"]), dg.AssetKey(["crm", "contact_identities"])],
          group_name="contacts", kinds={"postgres", "pandas"}, key_prefix="warehouse")
def contacts_clean(config: CleanConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every contact once, with E.164 phones, checked emails, split and cased names, normalized places and junk
    flags (never dropped)."""
    with warehouse.connect() as conn:
        raw = read_frame(conn, CONTACTS_SQL)
        clean = clean_contacts(raw, default_region=config.default_region)
        rows = replace_table(conn, clean, "contacts_clean")
    valid = float(clean["phone_valid"].mean()) if rows else 0.0
    return dg.MaterializeResult(metadata={"rows": rows, "valid_phone_share": round(valid, 4),
                                          "junk": int(clean["is_junk"].sum()) if rows else 0})


@dg.asset(deps=[contacts_clean], group_name="contacts", kinds={"splink", "duckdb"}, key_prefix="warehouse")
def contact_clusters(context: dg.AssetExecutionContext, config: DedupConfig,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    """contact id → golden id: exact links on verified phone and email plus the Splink model; junk rows stay
    singletons. The serving layer's rows are never rewritten."""
    with warehouse.connect() as conn:
        clean = read_frame(conn, "SELECT * FROM warehouse.contacts_clean ORDER BY contact_id")
        candidates = clean[~clean["is_junk"].astype(bool)] if len(clean) else clean
        frame = candidates[["contact_id", *DEDUP_FIELDS]].copy()
        if len(frame):
            result = deduplicate(frame, "contact_id", DEDUP_FIELDS, threshold=config.threshold,
                                 exact_keys=["phone_e164", "email_normalized"])
            clusters = result.clusters.rename(columns={"id": "contact_id", "cluster_id": "golden_id"})
        else:
            clusters = pd.DataFrame({"contact_id": [], "golden_id": [], "match_probability": []})
        junk = clean.loc[clean["is_junk"].astype(bool), ["contact_id"]].assign(
            golden_id=lambda f: f["contact_id"], match_probability=float("nan"))
        parts = [part for part in (clusters, junk) if len(part)]
        clusters = (pd.concat(parts, ignore_index=True) if parts else clusters).astype(
            {"contact_id": "int64", "golden_id": "int64"})
        clusters = apply_unmerges(clusters, _unmerged(conn))  # a person's `crm contacts unmerge` wins
        rows = replace_table(conn, clusters, "contact_clusters")
        _audit_merges(conn, clusters, context.run.run_id)
    merged = int((clusters["contact_id"] != clusters["golden_id"]).sum())
    return dg.MaterializeResult(metadata={"rows": rows, "contacts_merged": merged,
                                          "golden_contacts": int(clusters["golden_id"].nunique())})


@dg.asset(deps=[contacts_clean, dg.AssetKey(["crm", "messages"]), dg.AssetKey(["crm", "orders"])],
          group_name="contacts", kinds={"postgres", "pandas"}, key_prefix="warehouse")
def contacts_enriched(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Region, carrier and time zone from the phone; free-mail vs company; languages and channels used; first
    and last seen; orders, revenue and RFM."""
    with warehouse.connect() as conn:
        clean = read_frame(conn, "SELECT * FROM warehouse.contacts_clean ORDER BY contact_id")
        messages = read_frame(conn, MESSAGES_SQL)
        orders = read_frame(conn, ORDERS_SQL)
        enriched = enrich_contacts(clean, messages, orders, id_column="contact_id")
        rows = replace_table(conn, enriched, "contacts_enriched")
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(deps=[contacts_clean, contact_clusters], group_name="contacts", kinds={"postgres", "pandas"},
          key_prefix="warehouse")
def contacts_golden(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One record per person: per field the verified value, from the most trusted source, most recently seen."""
    with warehouse.connect() as conn:
        clean = read_frame(conn, "SELECT * FROM warehouse.contacts_clean ORDER BY contact_id")
        clusters = read_frame(conn, "SELECT contact_id, golden_id FROM warehouse.contact_clusters")
        golden = golden_records(clean, clusters)
        rows = replace_table(conn, golden, "contacts_golden")
    return dg.MaterializeResult(metadata={"rows": rows})


AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS warehouse.contact_merge_audit (
    id bigserial PRIMARY KEY, run_id text, action text NOT NULL, golden_id bigint NOT NULL,
    contact_id bigint NOT NULL, match_probability double precision, note text,
    recorded_at timestamptz NOT NULL DEFAULT now())
"""
UNMERGES_DDL = """
CREATE TABLE IF NOT EXISTS warehouse.contact_unmerges (
    contact_id bigint PRIMARY KEY, former_golden_id bigint, unmerged_at timestamptz NOT NULL DEFAULT now())
"""


def _unmerged(conn) -> list[int]:  # noqa: ANN001
    conn.execute("CREATE SCHEMA IF NOT EXISTS warehouse")
    conn.execute(UNMERGES_DDL)
    return [row[0] for row in conn.execute("SELECT contact_id FROM warehouse.contact_unmerges").fetchall()]


def _audit_merges(conn, clusters: pd.DataFrame, run_id: str) -> None:  # noqa: ANN001
    """Every contact merged into another golden record in this run, with its probability (the audit trail)."""
    merged = clusters[clusters["contact_id"] != clusters["golden_id"]]
    with conn.transaction():
        conn.execute(AUDIT_DDL)
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO warehouse.contact_merge_audit (run_id, action, golden_id, contact_id, "
                "match_probability) VALUES (%s, 'merge', %s, %s, %s)",
                [(run_id, int(g), int(c), None if pd.isna(p) else float(p))
                 for c, g, p in merged[["contact_id", "golden_id", "match_probability"]].itertuples(index=False)])
