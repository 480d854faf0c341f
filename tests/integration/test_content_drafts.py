"""The content generator against the real PostgreSQL (flow 14): the week's drafts from the catalog, once per
week however often it runs; auto-publish approves them; a product without an image goes to Facebook only; the
Dagster asset, its job and Monday schedule; `crm content generate`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest

from ml.content.writer import CaptionWriter
from orchestration.defs.content.drafts import (
    GenerationOptions,
    GenerationReport,
    content_drafts,
    generate_drafts,
)
from orchestration.defs.resources import WarehouseResource
from tests.unit.llm.replay import CASES, Replay

pytestmark = pytest.mark.integration
OPENAI = CASES[0]
PANAMA = ZoneInfo("America/Panama")
MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 2, 15, tzinfo=UTC)  # the Wednesday before
WEEK_START = datetime(2026, 12, 7, tzinfo=PANAMA)
IMAGE = {"image_url": "https://cdn.example/img.jpg"}


def seed(url: str) -> dict[str, int]:
    """A small catalog: a new phone, a TV on promotion, a laptop with 2 left and no image, a best-selling headset,
    an out-of-stock chair, an inactive product. Returns ids by sku."""
    rows = [("IPH15", "iPhone 15 128GB", 899, 7, "celulares", IMAGE, WEEK_START - timedelta(days=3), True),
            ("TV55", "Smart TV Samsung 55 pulgadas", 529, 6, "televisores",
             IMAGE | {"compare_at_price": 599}, WEEK_START - timedelta(days=90), True),
            ("XPS13", "Laptop Dell XPS 13", 1099, 2, "laptops", {}, WEEK_START - timedelta(days=90), True),
            ("JBL510", "Audífonos JBL Tune 510BT", 49.90, 25, "audio", IMAGE, WEEK_START - timedelta(days=90), True),
            ("CHAIR", "Silla gamer ErgoX", 189, 0, "muebles", IMAGE, WEEK_START - timedelta(days=1), True),
            ("OLD", "Producto retirado", 10, 50, "otros", IMAGE, WEEK_START - timedelta(days=1), False)]
    with psycopg.connect(url, autocommit=True) as conn:
        ids = {}
        for sku, name, price, stock, category, attributes, created, active in rows:
            ids[sku] = conn.execute(
                "INSERT INTO crm.products (sku, name, description, price, stock, category, attributes, created_at, "
                "active) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (sku, name, f"{name}: ficha del catálogo", price, stock, category, json.dumps(attributes), created,
                 active)).fetchone()[0]
        contact = conn.execute("INSERT INTO crm.contacts (display_name) VALUES ('Ana') RETURNING id").fetchone()[0]
        order = conn.execute("INSERT INTO crm.orders (order_number, contact_id, status, total, placed_at) VALUES "
                             "('A-1', %s, 'paid', 149.70, %s) RETURNING id",
                             (contact, WEEK_START - timedelta(days=5))).fetchone()[0]
        conn.execute("INSERT INTO crm.order_lines (order_id, product_id, sku, name, quantity, unit_price, line_total) "
                     "VALUES (%s, %s, 'JBL510', 'Audífonos JBL Tune 510BT', 3, 49.90, 149.70)", (order, ids["JBL510"]))
    return ids


def options(**overrides: object) -> GenerationOptions:
    values: dict = {"monday": MONDAY, "timezone": "America/Panama", "per_week": 4, "post_hour": 18,
                    "channels": ("facebook", "instagram"), "language": "es", "brand_voice": "cercana",
                    "hashtags": ("tiendademo",), "auto_approve": False}
    return GenerationOptions(**(values | overrides))


def run(url: str, writer: CaptionWriter | None = None, **overrides: object) -> GenerationReport:
    with psycopg.connect(url) as conn:
        return generate_drafts(conn, options(**overrides), writer or CaptionWriter(), NOW)


def posts(url: str) -> list[dict]:
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return cursor.execute("SELECT * FROM crm.content_posts ORDER BY scheduled_at, id").fetchall()


def test_the_week_is_proposed_once_however_often_the_generator_runs(clean_db: str) -> None:
    ids = seed(clean_db)
    first = run(clean_db)
    rows = posts(clean_db)
    assert (first.proposed, first.inserted, first.already) == (4, 4, 0)
    assert [row["generation_key"] for row in rows] == [
        f"gen:2026-12-07:promotion:{ids['TV55']}", f"gen:2026-12-07:new_product:{ids['IPH15']}",
        f"gen:2026-12-07:low_stock:{ids['XPS13']}", f"gen:2026-12-07:best_seller:{ids['JBL510']}"]
    assert [row["scheduled_at"].astimezone(PANAMA).strftime("%a %H:%M") for row in rows] == [
        "Mon 18:00", "Tue 18:00", "Thu 18:00", "Sat 18:00"]
    assert all(row["status"] == "draft" and row["source"] == "generator" and row["approved_by"] is None
               and row["language"] == "es" for row in rows)
    assert [row["product_ids"] for row in rows] == [[ids["TV55"]], [ids["IPH15"]], [ids["XPS13"]], [ids["JBL510"]]]
    assert "Antes $599, ahora $529" in rows[0]["body"] and rows[0]["body"].endswith("#tiendademo #televisores")
    assert first.written_by() == {"llm": 0, "template": 4}

    again = run(clean_db)
    assert (again.proposed, again.inserted, again.already) == (4, 0, 4)
    assert posts(clean_db) == rows, "a second run changes nothing"

    with psycopg.connect(clean_db, autocommit=True) as conn:  # the catalog changes; the week is full already
        conn.execute("INSERT INTO crm.products (sku, name, price, stock, attributes, created_at) VALUES "
                     "('NEW', 'Tablet nueva', 279, 5, '{}', %s)", (WEEK_START - timedelta(days=1),))
    assert run(clean_db).inserted == 0 and len(posts(clean_db)) == 4
    assert run(clean_db, monday=MONDAY + timedelta(days=7)).inserted == 4, "the next week is a new week"


def test_a_product_without_an_image_goes_only_to_facebook(clean_db: str) -> None:
    ids = seed(clean_db)
    run(clean_db)
    by_product = {row["product_ids"][0]: row for row in posts(clean_db)}
    assert by_product[ids["XPS13"]]["channels"] == ["facebook"] and by_product[ids["XPS13"]]["media_url"] is None
    assert by_product[ids["TV55"]]["channels"] == ["facebook", "instagram"]
    assert by_product[ids["TV55"]]["media_url"] == IMAGE["image_url"]
    assert ids["CHAIR"] not in by_product, "out of stock"


def test_instagram_only_skips_products_without_an_image(clean_db: str) -> None:
    ids = seed(clean_db)
    run(clean_db, channels=("instagram",))
    assert {row["product_ids"][0] for row in posts(clean_db)} == {ids["TV55"], ids["IPH15"], ids["JBL510"]}
    assert all(row["channels"] == ["instagram"] for row in posts(clean_db))


def test_auto_publish_approves_the_new_posts(clean_db: str) -> None:
    seed(clean_db)
    report = run(clean_db, auto_approve=True, per_week=2)
    rows = posts(clean_db)
    assert report.status == "approved" and len(rows) == 2
    assert all(r["status"] == "approved" and r["approved_by"] == "auto-publish" and r["approved_at"] == NOW
               for r in rows)


def test_an_llm_caption_is_stored_with_its_call_and_a_bad_one_falls_back(clean_db: str) -> None:
    seed(clean_db)
    good = {"caption": "¡La Smart TV Samsung 55 pulgadas ahora a $529! Escríbenos por mensaje directo."}
    bad = {"caption": "iPhone 15 128GB desde $99 al mes. Escríbenos."}
    replay = Replay([OPENAI.ok(json.dumps(good, ensure_ascii=False)), OPENAI.ok(json.dumps(bad))])
    report = run(clean_db, CaptionWriter([OPENAI.build(replay, max_retries=0)]), per_week=2)
    assert [p.written_by for p in report.added] == ["llm", "template"]
    rows = posts(clean_db)
    assert rows[0]["body"] == good["caption"] + "\n\n#tiendademo #televisores"
    assert "$99" not in rows[1]["body"] and "Precio: $899" in rows[1]["body"]
    with psycopg.connect(clean_db, autocommit=True) as conn:
        calls = conn.execute("SELECT task, provider, outcome FROM crm.llm_calls ORDER BY id").fetchall()
    assert calls == [("content_caption", "openai", "ok"), ("content_caption", "openai", "invalid_output")]


def test_the_asset_materializes_the_week_from_the_settings(clean_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm.settings import get_settings

    seed(clean_db)
    monkeypatch.setenv("CONTENT_AUTO_PUBLISH", "true")
    monkeypatch.setenv("CONTENT_POSTS_PER_WEEK", "2")
    monkeypatch.setenv("CONTENT_LANGUAGE", "en")
    monkeypatch.setenv("LLM_PROVIDERS", "local")
    get_settings.cache_clear()
    try:
        config = {"ops": {"content_drafts": {"config": {"week_of": "2030-01-16"}}}}
        resources = {"warehouse": WarehouseResource(dsn=clean_db)}
        first = dg.materialize([content_drafts], resources=resources, run_config=config)
        second = dg.materialize([content_drafts], resources=resources, run_config=config)
    finally:
        get_settings.cache_clear()
    assert first.success and second.success
    metadata = first.asset_materializations_for_node("content_drafts")[0].metadata
    assert metadata["week"].value == "2030-01-14" and metadata["proposed"].value == 2
    assert metadata["inserted"].value == 2 and metadata["written_by_template"].value == 2
    assert second.asset_materializations_for_node("content_drafts")[0].metadata["inserted"].value == 0
    rows = posts(clean_db)
    assert len(rows) == 2 and all(r["status"] == "approved" and r["language"] == "en" for r in rows)
    assert "Was $599, now $529 (12% off)" in rows[0]["body"] and "Price: $1,099" in rows[1]["body"]


def test_crm_content_generate_prints_what_it_added(clean_db: str) -> None:
    seed(clean_db)
    env = {**os.environ, "DATABASE_URL": clean_db, "CONTENT_POSTS_PER_WEEK": "3", "LLM_PROVIDERS": "local"}
    command = [sys.executable, "-m", "crm.cli.main", "content", "generate", "--week-of", "2030-02-06"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180,
                           check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 proposed, 3 new (0 already in the calendar)" in first.stdout
    assert "week of 2030-02-04" in first.stdout
    second = subprocess.run([*command, "--auto-approve"], env=env, capture_output=True, text=True, timeout=180,
                            check=False)
    assert "3 proposed, 0 new (3 already in the calendar)" in second.stdout, second.stdout + second.stderr
    assert {r["status"] for r in posts(clean_db)} == {"draft"}, "nothing new, nothing approved"


def test_the_definitions_load_with_the_asset_its_job_and_the_monday_schedule() -> None:
    from crm.settings import get_settings
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("content_drafts"))
    assert node.is_materializable and node.group_name == "content"
    assert dg.AssetKey(["crm", "orders"]) in node.parent_keys
    job = defs.resolve_job_def("content_job")
    assert [n.name for n in job.graph.node_defs] == ["content_drafts"]
    schedule = defs.resolve_schedule_def("content_drafts_schedule")
    assert schedule.cron_schedule == "0 6 * * 1" and schedule.job_name == "content_job"
    assert schedule.execution_timezone == get_settings().business_timezone
