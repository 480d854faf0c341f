"""The contacts assets materialized in-process against the real PostgreSQL: clean, clusters, enriched, checks."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import psycopg
import pytest

from orchestration.defs.contacts.assets import contact_clusters, contacts_clean, contacts_enriched, contacts_golden
from orchestration.defs.contacts.checks import (
    contact_ids_are_unique,
    contacts_have_valid_phones,
    emails_are_well_formed,
)
from orchestration.defs.resources import WarehouseResource
from tests.helpers import fetch_one

pytestmark = pytest.mark.integration
CHECKS = [contact_ids_are_unique, contacts_have_valid_phones, emails_are_well_formed]

CONTACTS = [  # display_name, phone_e164, email, city
    ("María José González", "+50761234567", "maria.gonzalez@gmail.com", "panama"),
    ("Maria Jose Gonzalez", None, "MARIA.GONZALEZ@gmail.com", "Panamá"),  # same email: same person
    ("Carlos Pérez", "+50762223333", None, "David"),
    ("Carlos Perez", "+50762223333", "cperez@empresa.com.pa", "david chiriqui"),  # same phone
    ("test test", "+50700000000", "test@test.com", None),  # junk: flagged, never merged
    ("Ana Lucía Ruiz", "+50763334444", "ana@ruiz.dev", "Colón"),
]


def materialize_all(url: str) -> dg.ExecuteInProcessResult:
    return dg.materialize([contacts_clean, contact_clusters, contacts_enriched, contacts_golden, *CHECKS],
                          resources={"warehouse": WarehouseResource(dsn=url)})


async def test_the_contacts_graph_cleans_clusters_and_enriches(clean_db: str, db: psycopg.AsyncConnection) -> None:
    await db.execute("DROP SCHEMA IF EXISTS warehouse CASCADE")  # other tests (the demo) leave audit rows there
    for name, phone, email, city in CONTACTS:
        await db.execute("INSERT INTO crm.contacts (display_name, phone_e164, email, city) VALUES (%s, %s, %s, %s)",
                         (name, phone, email, city))
    await db.execute("INSERT INTO crm.orders (order_number, contact_id, status, total, placed_at) "
                     "VALUES ('A1', 3, 'paid', 120, now() - interval '10 days')")
    result = materialize_all(clean_db)
    assert result.success
    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert checks.get("contact_ids_are_unique") is True
    clean = await fetch_one(db, "SELECT count(*) AS n, count(*) FILTER (WHERE is_junk) AS junk, "
                                "count(*) FILTER (WHERE city_clean = 'Panamá') AS panama "
                                "FROM warehouse.contacts_clean")
    assert clean == {"n": 6, "junk": 1, "panama": 2}
    golden = dict((await (await db.execute(
        "SELECT contact_id, golden_id FROM warehouse.contact_clusters ORDER BY contact_id")).fetchall()))
    assert golden[2] == golden[1] and golden[4] == golden[3], "same email / same verified phone"
    assert golden[5] == 5 and golden[6] == 6 and golden[1] != golden[3]
    assert await (await db.execute("SELECT count(*) FROM crm.contacts")).fetchone() == (6,), "crm rows untouched"
    enriched = await fetch_one(db, "SELECT order_count, phone_time_zone FROM warehouse.contacts_enriched "
                                   "WHERE contact_id = 3")
    assert enriched == {"order_count": 1, "phone_time_zone": "America/Panama"}

    golden_row = await fetch_one(db, "SELECT member_count, email_normalized, phone_e164 FROM warehouse.contacts_golden "
                                     "WHERE golden_id = %s", golden[3])
    assert golden_row == {"member_count": 2, "email_normalized": "cperez@empresa.com.pa",
                          "phone_e164": "+50762223333"}
    merges = await fetch_one(db, "SELECT count(*) AS n FROM warehouse.contact_merge_audit WHERE action = 'merge'")
    assert merges["n"] == 2

    # A person says contacts 3 and 4 are two people: split now, and kept apart by the next run.
    undone = subprocess.run([sys.executable, "-m", "crm.cli.main", "contacts", "unmerge", str(golden[3])],
                            env={**os.environ, "DATABASE_URL": clean_db}, capture_output=True, text=True,
                            timeout=120, check=False)
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert materialize_all(clean_db).success
    after = dict((await (await db.execute(
        "SELECT contact_id, golden_id FROM warehouse.contact_clusters ORDER BY contact_id")).fetchall()))
    assert after[3] == 3 and after[4] == 4 and after[2] == after[1]
    assert await fetch_one(db, "SELECT count(*) AS n FROM warehouse.contact_merge_audit WHERE action = 'unmerge'") \
        == {"n": 2}



async def test_the_sensor_asks_for_a_run_only_when_contacts_changed(clean_db: str, db: psycopg.AsyncConnection) -> None:
    from orchestration.defs.contacts.schedules import new_contacts_sensor

    warehouse = WarehouseResource(dsn=clean_db)
    empty = new_contacts_sensor(dg.build_sensor_context(resources={"warehouse": warehouse}))
    assert not empty.run_requests
    await db.execute("INSERT INTO crm.contacts (display_name) VALUES ('Ana')")
    first = new_contacts_sensor(dg.build_sensor_context(resources={"warehouse": warehouse}))
    assert len(first.run_requests) == 1
    again = new_contacts_sensor(dg.build_sensor_context(cursor=first.cursor, resources={"warehouse": warehouse}))
    assert not again.run_requests, "nothing changed since"


async def test_new_contacts_are_cleaned_and_clustered_without_a_full_rebuild(
        clean_db: str, db: psycopg.AsyncConnection) -> None:
    from orchestration.defs.contacts.schedules import INCREMENTAL

    await db.execute("DROP SCHEMA IF EXISTS warehouse CASCADE")
    for name, phone, email, city in CONTACTS:
        await db.execute("INSERT INTO crm.contacts (display_name, phone_e164, email, city) VALUES (%s, %s, %s, %s)",
                         (name, phone, email, city))
    assert materialize_all(clean_db).success
    # A marker on an already cleaned row: an incremental run must leave it alone (a full one would redo it).
    await db.execute("UPDATE warehouse.contacts_clean SET city_clean = 'marker' WHERE contact_id = 1")
    await db.execute("INSERT INTO crm.contacts (display_name, phone_e164, email, city) VALUES "
                     "('Ana L. Ruiz', NULL, 'ANA@ruiz.dev', 'colon'), ('Pedro Sánchez', '+50765556666', NULL, 'David')")

    result = dg.materialize([contacts_clean, contact_clusters, contacts_enriched, contacts_golden],
                            resources={"warehouse": WarehouseResource(dsn=clean_db)}, run_config=INCREMENTAL)
    assert result.success
    materializations = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    modes = {m.asset_key.path[-1]: m.metadata["mode"].value for m in materializations if "mode" in m.metadata}
    assert modes == {"contacts_clean": "incremental", "contact_clusters": "incremental"}
    assert await fetch_one(db, "SELECT city_clean FROM warehouse.contacts_clean WHERE contact_id = 1") == \
        {"city_clean": "marker"}, "old rows are not re-cleaned"
    assert await fetch_one(db, "SELECT count(*) AS n FROM warehouse.contacts_clean") == {"n": 8}
    golden = dict((await (await db.execute(
        "SELECT contact_id, golden_id FROM warehouse.contact_clusters ORDER BY contact_id")).fetchall()))
    assert golden[7] == golden[6] == 6, "the new Ana shares a verified email with contact 6"
    assert golden[8] == 8 and golden[2] == golden[1] and golden[4] == golden[3], "old clusters kept"
    audit = await (await db.execute("SELECT contact_id FROM warehouse.contact_merge_audit WHERE action = 'merge' "
                                    "ORDER BY id")).fetchall()
    assert [row[0] for row in audit] == [2, 4, 7], "only what changed is audited"
    assert await fetch_one(db, "SELECT member_count FROM warehouse.contacts_golden WHERE golden_id = 6") == \
        {"member_count": 2}
