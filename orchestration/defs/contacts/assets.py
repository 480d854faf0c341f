"""Flows 18-20 as assets: contacts_clean → contacts_golden (clusters) and contacts_enriched. Thin: the logic is
in ml.contacts and ml.dedup and tested there; these read the crm tables, call it, and write `warehouse`.
(No `from __future__ import annotations`: Dagster reads the config classes from the annotations.)"""


import json

import dagster as dg
import pandas as pd

from ml.contacts.clean import clean_contacts
from ml.contacts.enrich import enrich_contacts
from ml.dedup.engine import deduplicate
from ml.dedup.incremental import fold_into_clusters, link_new_records
from ml.dedup.survivorship import apply_unmerges, golden_records
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse_io import read_frame, replace_table, table_exists, upsert_rows

CONTACTS_SQL = """
SELECT c.id AS contact_id, c.display_name AS full_name, c.first_name, c.last_name,
       coalesce(c.phone_e164, (SELECT '+' || i.external_id FROM crm.contact_identities i
                               WHERE i.contact_id = c.id AND i.kind = 'wa_id' ORDER BY i.id LIMIT 1)) AS phone,
       c.email, c.country, c.city, c.source_channel, c.created_at, c.last_seen_at, c.updated_at AS source_updated_at
FROM crm.contacts c {where} ORDER BY c.id
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
EXACT_KEYS = ["phone_e164", "email_normalized"]


class CleanConfig(dg.Config):
    default_region: str = "PA"  # phones without a country code are read as this region's
    incremental: bool = False  # clean only contacts changed since the last run (the new-contacts sensor's mode)


class DedupConfig(dg.Config):
    threshold: float = 0.9
    incremental: bool = False  # score only contacts not yet clustered, with the last full run's model


@dg.asset(deps=[dg.AssetKey(["crm", "contacts"]), dg.AssetKey(["crm", "contact_identities"])],
          group_name="contacts", kinds={"postgres", "pandas"}, key_prefix="warehouse")
def contacts_clean(context: dg.AssetExecutionContext, config: CleanConfig,
                   warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every contact once, with E.164 phones, checked emails, split and cased names, normalized places and junk
    flags (never dropped). Incremental runs clean only the contacts changed since the newest one cleaned."""
    with warehouse.connect() as conn:
        watermark = _clean_watermark(conn) if config.incremental else None
        if watermark is not None:  # ">=": contacts changed in the same instant as the last one are redone
            raw = read_frame(conn, CONTACTS_SQL.format(where="WHERE c.updated_at >= %(since)s"), {"since": watermark})
            clean = clean_contacts(raw, default_region=config.default_region)
            rows = upsert_rows(conn, clean, "contacts_clean", key="contact_id")
        else:
            if config.incremental:
                context.log.info("contacts_clean has no watermark yet: cleaning every contact")
            raw = read_frame(conn, CONTACTS_SQL.format(where=""))
            clean = clean_contacts(raw, default_region=config.default_region)
            rows = replace_table(conn, clean, "contacts_clean")
    valid = float(clean["phone_valid"].mean()) if rows else 0.0
    return dg.MaterializeResult(metadata={"mode": "incremental" if watermark is not None else "full",
                                          "rows": rows, "valid_phone_share": round(valid, 4),
                                          "junk": int(clean["is_junk"].sum()) if rows else 0})


def _clean_watermark(conn):  # noqa: ANN001, ANN202
    if not table_exists(conn, "contacts_clean"):
        return None
    has_column = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = 'warehouse' AND "
                              "table_name = 'contacts_clean' AND column_name = 'source_updated_at'").fetchone()
    return conn.execute("SELECT max(source_updated_at) FROM warehouse.contacts_clean").fetchone()[0] \
        if has_column else None


@dg.asset(deps=[contacts_clean], group_name="contacts", kinds={"splink", "duckdb"}, key_prefix="warehouse")
def contact_clusters(context: dg.AssetExecutionContext, config: DedupConfig,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    """contact id → golden id: exact links on verified phone and email plus the Splink model; junk rows stay
    singletons. The serving layer's rows are never rewritten. A full run trains the model and saves it;
    an incremental run scores only contacts not yet clustered (against everyone, with that model)."""
    with warehouse.connect() as conn:
        clean = read_frame(conn, "SELECT * FROM warehouse.contacts_clean ORDER BY contact_id")
        before = (read_frame(conn, "SELECT contact_id, golden_id, match_probability FROM warehouse.contact_clusters")
                  if table_exists(conn, "contact_clusters") else None)
        model = _latest_model(conn) if config.incremental and before is not None else None
        if model is not None:
            clusters, scored = _cluster_new_contacts(clean, before, model, config.threshold), "incremental"
        else:
            if config.incremental:
                context.log.info("no saved dedup model or clusters yet: running the full model")
            clusters, settings = _cluster_all_contacts(clean, config.threshold)
            if settings:
                _save_model(conn, settings, context.run.run_id, len(clean))
            scored = "full"
        clusters = apply_unmerges(clusters, _unmerged(conn))  # a person's `crm contacts unmerge` wins
        rows = replace_table(conn, clusters, "contact_clusters")
        changes = _audit_changes(conn, before, clusters, context.run.run_id)
    merged = int((clusters["contact_id"] != clusters["golden_id"]).sum())
    return dg.MaterializeResult(metadata={"mode": scored, "rows": rows, "contacts_merged": merged,
                                          "golden_contacts": int(clusters["golden_id"].nunique()),
                                          "merges_this_run": changes})


def _junk_mask(clean: pd.DataFrame) -> pd.Series:
    return clean["is_junk"].astype(bool) if len(clean) else pd.Series(dtype=bool)


def _cluster_all_contacts(clean: pd.DataFrame, threshold: float) -> tuple[pd.DataFrame, dict | None]:
    """The full run: every non-junk contact through the engine; junk rows stay singletons."""
    candidates = clean[~_junk_mask(clean)]
    frame = candidates[["contact_id", *DEDUP_FIELDS]].copy()
    settings = None
    if len(frame):
        result = deduplicate(frame, "contact_id", DEDUP_FIELDS, threshold=threshold, exact_keys=EXACT_KEYS)
        clusters = result.clusters.rename(columns={"id": "contact_id", "cluster_id": "golden_id"})
        settings = result.model.get("settings")
    else:
        clusters = pd.DataFrame({"contact_id": [], "golden_id": [], "match_probability": []})
    junk = clean.loc[_junk_mask(clean), ["contact_id"]].assign(
        golden_id=lambda f: f["contact_id"], match_probability=float("nan"))
    parts = [part for part in (clusters, junk) if len(part)]
    clusters = pd.concat(parts, ignore_index=True) if parts else clusters
    return clusters.astype({"contact_id": "int64", "golden_id": "int64"}).sort_values(
        "contact_id", ignore_index=True), settings


def _cluster_new_contacts(clean: pd.DataFrame, before: pd.DataFrame, settings: dict,
                          threshold: float) -> pd.DataFrame:
    """Contacts not yet clustered, scored against the clustered ones and each other; existing clusters kept."""
    known = set(before["contact_id"])
    usable = clean[~_junk_mask(clean)][["contact_id", *DEDUP_FIELDS]]
    existing, new = usable[usable["contact_id"].isin(known)], usable[~usable["contact_id"].isin(known)]
    pairs = link_new_records(existing, new, "contact_id", DEDUP_FIELDS, settings, exact_keys=EXACT_KEYS)
    current = before[before["contact_id"].isin(set(clean["contact_id"]))]  # contacts erased since are dropped
    new_ids = [i for i in clean["contact_id"] if i not in known]
    folded = fold_into_clusters(current.rename(columns={"contact_id": "id", "golden_id": "cluster_id"}),
                                new_ids, pairs, threshold)
    return folded.rename(columns={"id": "contact_id", "cluster_id": "golden_id"}).astype(
        {"contact_id": "int64", "golden_id": "int64"})


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


MODELS_DDL = """
CREATE TABLE IF NOT EXISTS warehouse.dedup_models (
    id bigserial PRIMARY KEY, run_id text, trained_rows bigint, settings jsonb NOT NULL,
    trained_at timestamptz NOT NULL DEFAULT now())
"""


def _save_model(conn, settings: dict, run_id: str, rows: int) -> None:  # noqa: ANN001
    """The trained Splink model of a full run, for the incremental runs until the next one."""
    with conn.transaction():
        conn.execute(MODELS_DDL)
        conn.execute("INSERT INTO warehouse.dedup_models (run_id, trained_rows, settings) VALUES (%s, %s, %s)",
                     (run_id, rows, json.dumps(settings)))


def _latest_model(conn) -> dict | None:  # noqa: ANN001
    if not table_exists(conn, "dedup_models"):
        return None
    row = conn.execute("SELECT settings FROM warehouse.dedup_models ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def _audit_changes(conn, before: pd.DataFrame | None, after: pd.DataFrame, run_id: str) -> int:  # noqa: ANN001
    """The audit trail: a `merge` row for each contact now in another contact's golden record that was not
    before (all of them on the first run), a `split` row for each that left one. Returns the merges."""
    previous = {} if before is None else dict(zip(before["contact_id"], before["golden_id"], strict=True))
    merges, splits = [], []
    for contact, golden, probability in after[["contact_id", "golden_id", "match_probability"]].itertuples(
            index=False):
        was = previous.get(contact, contact)
        if golden != contact and golden != was:
            merges.append((run_id, int(golden), int(contact), None if pd.isna(probability) else float(probability)))
        elif golden == contact and was != contact:
            splits.append((run_id, int(was), int(contact), None))
    with conn.transaction():
        conn.execute(AUDIT_DDL)
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO warehouse.contact_merge_audit (run_id, action, golden_id, contact_id, "
                "match_probability) VALUES (%s, 'merge', %s, %s, %s)", merges)
            cursor.executemany(
                "INSERT INTO warehouse.contact_merge_audit (run_id, action, golden_id, contact_id, "
                "match_probability) VALUES (%s, 'split', %s, %s, %s)", splits)
    return len(merges)
