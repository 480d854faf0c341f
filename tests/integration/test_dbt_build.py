"""The dbt marts over a small, realistic day of conversations: five conversations on 2 March 2026, three resolved by
the bot alone, one escalated to an agent, one still waiting; a duplicate contact merged by deduplication; two
orders. One `dbt build` (models and their YAML tests) is shared by every test in this module."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from crm.db.urls import dbt_env
from tests.conftest import ROOT, truncate_all

pytestmark = pytest.mark.integration

DBT = ROOT / ".venv" / "bin" / "dbt"
PROJECT = ROOT / "dbt_project"
DAY = date(2026, 3, 2)

# Contacts 1-5; contact 4 is Ana again (Messenger), merged into contact 1 by warehouse.contact_clusters.
DATASET = """
INSERT INTO crm.contacts (id, display_name, phone_e164, email, language, source_channel) VALUES
  (1, 'Ana López', '+5215512345678', 'ana@example.com', 'es', 'whatsapp'),
  (2, 'Bob Stone', NULL, NULL, 'en', 'instagram'),
  (3, 'Carla Ruiz', '+5215587654321', NULL, 'es', 'whatsapp'),
  (4, 'Ana Lopez', NULL, 'ana@example.com', 'es', 'messenger'),
  (5, 'Dan Ortiz', '+5215500001111', NULL, 'es', 'whatsapp');

INSERT INTO crm.agents (id, name, department) VALUES (1, 'Luz', 'support_team');

INSERT INTO crm.conversations (id, contact_id, channel, account_external_id, status, close_reason, csat_score,
                               created_at, resolved_at, closed_at) VALUES
  (1, 1, 'whatsapp',  'waba-1', 'closed',   'resolved_by_bot', 5,
   '2026-03-02 10:00:00+00', '2026-03-02 10:03:00+00', '2026-03-02 10:10:00+00'),
  (2, 2, 'instagram', 'ig-1',   'resolved', 'resolved_by_bot', NULL,
   '2026-03-02 11:00:00+00', '2026-03-02 11:02:00+00', NULL),
  (3, 3, 'whatsapp',  'waba-1', 'human',    NULL, NULL, '2026-03-02 12:00:00+00', NULL, NULL),
  (4, 4, 'messenger', 'page-1', 'closed',   'idle', 4,
   '2026-03-02 13:00:00+00', NULL, '2026-03-02 16:00:00+00'),
  (5, 5, 'whatsapp',  'waba-1', 'open',     NULL, NULL, '2026-03-02 14:00:00+00', NULL, NULL);

-- Inbound messages: created_at is when the CRM stored them (the response clock starts there).
INSERT INTO crm.messages (id, channel, dedup_key, direction, message_type, text, counterpart_external_id,
                          contact_id, conversation_id, sent_at, created_at) VALUES
  (1, 'whatsapp',  'in-1', 'inbound', 'text', 'Hola, ¿tienen la mochila negra?', '5215512345678', 1, 1,
   '2026-03-02 10:00:00+00', '2026-03-02 10:00:00.000+00'),
  (2, 'instagram', 'in-2', 'inbound', 'text', 'Do you ship to Monterrey?', 'igsid-2', 2, 2,
   '2026-03-02 11:00:00+00', '2026-03-02 11:00:00.000+00'),
  (3, 'whatsapp',  'in-3', 'inbound', 'text', 'Mi pedido llegó roto, quiero hablar con alguien', '5215587654321',
   3, 3, '2026-03-02 12:00:00+00', '2026-03-02 12:00:00.000+00'),
  (4, 'messenger', 'in-4', 'inbound', 'text', 'precio de la mochila?', 'psid-4', 4, 4,
   '2026-03-02 13:00:00+00', '2026-03-02 13:00:00.000+00'),
  (5, 'whatsapp',  'in-5', 'inbound', 'text', 'hola', '5215500001111', 5, 5,
   '2026-03-02 14:00:00+00', '2026-03-02 14:00:00.000+00'),
  (6, 'whatsapp',  'in-6', 'inbound', 'text', 'gracias!', '5215512345678', 1, 1,
   '2026-03-02 10:02:30+00', '2026-03-02 10:02:30.000+00');

-- Outbound messages as the outbox sender records them once sent.
INSERT INTO crm.messages (id, channel, dedup_key, direction, message_type, text, counterpart_external_id,
                          contact_id, conversation_id, sent_at, created_at, status) VALUES
  (11, 'whatsapp',  'wamid.out-11', 'outbound', 'text', 'Sí, la tenemos a 45 USD', '5215512345678', 1, 1,
   '2026-03-02 10:00:01.2+00', '2026-03-02 10:00:01.2+00', 'read'),
  (12, 'instagram', 'mid.out-12',   'outbound', 'text', 'Yes, 2-3 days', 'igsid-2', 2, 2,
   '2026-03-02 11:00:02.5+00', '2026-03-02 11:00:02.5+00', 'delivered'),
  (13, 'whatsapp',  'wamid.out-13', 'outbound', 'text', 'Lo siento mucho, reviso tu pedido', '5215587654321', 3, 3,
   '2026-03-02 12:00:00.8+00', '2026-03-02 12:00:00.8+00', 'read'),
  (14, 'whatsapp',  'wamid.out-14', 'outbound', 'text', 'Te paso con una persona del equipo', '5215587654321', 3, 3,
   '2026-03-02 12:00:03+00', '2026-03-02 12:00:03+00', 'read'),
  (15, 'whatsapp',  'wamid.out-15', 'outbound', 'text', 'Hola Carla, soy Luz', '5215587654321', 3, 3,
   '2026-03-02 12:05:00+00', '2026-03-02 12:05:00+00', 'read'),
  (16, 'messenger', 'mid.out-16',   'outbound', 'text', 'Cuesta 45 USD', 'psid-4', 4, 4,
   '2026-03-02 13:00:04+00', '2026-03-02 13:00:04+00', 'delivered'),
  (17, 'whatsapp',  'wamid.out-17', 'outbound', 'interactive', '¿Cómo calificarías la atención?', '5215512345678',
   1, 1, '2026-03-02 10:10:00+00', '2026-03-02 10:10:00+00', 'read');

INSERT INTO crm.outbound_messages (id, idempotency_key, conversation_id, contact_id, in_reply_to_message_id,
                                   message_id, channel, account_external_id, recipient_external_id, text, payload,
                                   status, created_at, sent_at) VALUES
  (1, 'reply:1',           1, 1, 1, 11, 'whatsapp',  'waba-1', '5215512345678', 'Sí', '{}', 'sent',
   '2026-03-02 10:00:00.9+00', '2026-03-02 10:00:01.2+00'),
  (2, 'reply:2',           2, 2, 2, 12, 'instagram', 'ig-1',   'igsid-2', 'Yes', '{}', 'sent',
   '2026-03-02 11:00:02+00', '2026-03-02 11:00:02.5+00'),
  (3, 'reply:3',           3, 3, 3, 13, 'whatsapp',  'waba-1', '5215587654321', 'Lo siento', '{}', 'sent',
   '2026-03-02 12:00:00.5+00', '2026-03-02 12:00:00.8+00'),
  (4, 'handoff:1',         3, 3, NULL, 14, 'whatsapp', 'waba-1', '5215587654321', 'Te paso', '{}', 'sent',
   '2026-03-02 12:00:02+00', '2026-03-02 12:00:03+00'),
  (5, 'agent:3:key-1:abc', 3, 3, NULL, 15, 'whatsapp', 'waba-1', '5215587654321', 'Hola Carla', '{}', 'sent',
   '2026-03-02 12:04:59+00', '2026-03-02 12:05:00+00'),
  (6, 'reply:4',           4, 4, 4, 16, 'messenger', 'page-1', 'psid-4', 'Cuesta 45', '{}', 'sent',
   '2026-03-02 13:00:03+00', '2026-03-02 13:00:04+00'),
  (7, 'csat:1',            1, 1, NULL, 17, 'whatsapp', 'waba-1', '5215512345678', '¿Cómo?', '{}', 'sent',
   '2026-03-02 10:10:00+00', '2026-03-02 10:10:00+00'),
  -- Dan's reply never went out: his conversation has no first response yet.
  (8, 'reply:5',           5, 5, 5, NULL, 'whatsapp', 'waba-1', '5215500001111', 'Hola', '{}', 'failed',
   '2026-03-02 14:00:01+00', NULL);

INSERT INTO crm.tickets (id, conversation_id, contact_id, department, priority, reasons, status, agent_id,
                         trigger_message_id, created_at, assigned_at) VALUES
  (1, 3, 3, 'support_team', 1, '["explicit_request", "negative_sentiment"]', 'assigned', 1, 3,
   '2026-03-02 12:00:02+00', '2026-03-02 12:01:02+00');

INSERT INTO crm.orders (id, order_number, source, contact_id, conversation_id, channel, status, subtotal,
                        shipping_cost, total, placed_at, created_at) VALUES
  (1, 'ORD-1001', 'chat', 1, 1, 'whatsapp', 'paid', 90.00, 5.00, 95.00,
   '2026-03-02 10:05:00+00', '2026-03-02 10:04:00+00'),
  (2, 'ORD-1002', 'chat', 4, 4, 'messenger', 'draft', 45.00, 0, 45.00, NULL, '2026-03-02 13:01:00+00');
INSERT INTO crm.order_lines (order_id, sku, name, quantity, unit_price, line_total) VALUES
  (1, 'BAG-BLK', 'Mochila negra', 2, 45.00, 90.00),
  (2, 'BAG-BLK', 'Mochila negra', 1, 45.00, 45.00);

INSERT INTO crm.sentiment_analyses (message_id, contact_id, model, sentiment, score, confidence, urgency_level,
                                    churn_risk, created_at) VALUES
  (1, 1, 'local', 'positive', 0.8, 0.9, 'low', 5, '2026-03-02 10:00:00.1+00'),
  (3, 3, 'local', 'negative', -0.7, 0.9, 'high', 70, '2026-03-02 12:00:00.1+00');

-- Ana is scored hot on WhatsApp, then warm on Messenger (her latest score, as one person).
INSERT INTO crm.lead_classifications (message_id, contact_id, model, score, category, created_at) VALUES
  (1, 1, 'local', 85, 'hot',  '2026-03-02 10:00:00.2+00'),
  (2, 2, 'local', 20, 'cold', '2026-03-02 11:00:00.2+00'),
  (4, 4, 'local', 60, 'warm', '2026-03-02 13:00:00.2+00');

INSERT INTO crm.llm_calls (task, provider, model, latency_ms, input_tokens, output_tokens, estimated_cost_usd,
                           outcome, created_at) VALUES
  ('reply', 'openai', 'gpt-4o-mini', 900, 1200, 80, 0.002, 'ok', '2026-03-02 11:00:01+00'),
  ('reply', 'openai', 'gpt-4o-mini', 3000, 1100, NULL, NULL, 'timeout', '2026-03-02 12:00:00.2+00');
"""

CLUSTERS = """
CREATE SCHEMA IF NOT EXISTS warehouse;
DROP TABLE IF EXISTS warehouse.contact_clusters;
CREATE TABLE warehouse.contact_clusters (contact_id bigint, golden_id bigint, match_probability double precision);
INSERT INTO warehouse.contact_clusters VALUES (1, 1, 0.97), (2, 2, NULL), (3, 3, NULL), (4, 1, 0.97), (5, 5, NULL);
"""


@dataclass
class DbtRun:
    url: str
    target: Path
    build: subprocess.CompletedProcess[str]
    docs: subprocess.CompletedProcess[str]
    golden_rows_without_clusters: int


def dbt(url: str, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **dbt_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(
        [str(DBT), *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def dbt_run(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtRun]:
    work = tmp_path_factory.mktemp("dbt")
    truncate_all(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(DATASET)
        # Before Dagster's dedup asset has ever run: the marts still build, each contact its own golden record.
        conn.execute("DROP TABLE IF EXISTS warehouse.contact_clusters")
    first = dbt(database_url, work, "run", "--select", "+dim_contacts")
    assert first.returncode == 0, first.stdout[-4000:]
    golden_without = rows(database_url, "SELECT count(*) FROM marts.dim_contacts WHERE golden_contact_id <> contact_id")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(CLUSTERS)
    build = dbt(database_url, work, "build")
    docs = dbt(database_url, work, "docs", "generate")
    yield DbtRun(database_url, work / "target", build, docs, golden_without[0][0])
    truncate_all(database_url)


def test_dbt_build_runs_every_model_and_test_green(dbt_run: DbtRun) -> None:
    assert dbt_run.build.returncode == 0, dbt_run.build.stdout[-6000:]
    results = json.loads((dbt_run.target / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    assert not {k: v for k, v in statuses.items() if v not in ("success", "pass")}
    models = {k.split(".")[-1] for k in statuses if k.startswith("model.")}
    assert {"dim_contacts", "fct_conversations", "fct_messages", "fct_orders", "mart_autonomous_resolution",
            "mart_response_times", "mart_daily_channel_metrics"} <= models
    assert sum(k.startswith("test.") for k in statuses) > 100
    # Schemas are named exactly, with no target prefix.
    schemas = {r[0] for r in rows(dbt_run.url, "SELECT table_schema FROM information_schema.tables "
                                               "WHERE table_name IN ('stg_crm__contacts', 'fct_conversations', "
                                               "'int_conversation_first_responses')")}
    assert schemas == {"staging", "intermediate", "marts"}


def test_marts_build_before_the_dedup_asset_has_run(dbt_run: DbtRun) -> None:
    assert dbt_run.golden_rows_without_clusters == 0


def test_docs_generate(dbt_run: DbtRun) -> None:
    assert dbt_run.docs.returncode == 0, dbt_run.docs.stdout[-4000:]
    catalog = json.loads((dbt_run.target / "catalog.json").read_text())
    assert "model.autonomous_crm.mart_autonomous_resolution" in catalog["nodes"]


def test_autonomous_resolution_share_for_the_day(dbt_run: DbtRun) -> None:
    [row] = rows(dbt_run.url, "SELECT conversation_date, conversations, autonomously_resolved_conversations, "
                              "escalated_conversations, autonomous_resolution_share, target_share, meets_target, "
                              "avg_csat_score FROM marts.mart_autonomous_resolution")
    # Ana (WhatsApp), Bob and Ana again (Messenger, closed idle after the bot's answer) were resolved by the bot;
    # Carla's went to Luz; Dan's is still waiting.
    assert row == (DAY, 5, 3, 1, Decimal("0.6000"), Decimal("0.80"), False, Decimal("4.50"))


def test_conversation_facts(dbt_run: DbtRun) -> None:
    facts = {r[0]: r[1:] for r in rows(dbt_run.url, """
        SELECT conversation_id, first_responder_type, round(first_response_seconds::numeric, 3), is_escalated,
               is_resolved_autonomously, bot_reply_count, human_reply_count, first_ticket_id, golden_contact_id
        FROM marts.fct_conversations""")}
    assert facts == {
        1: ("bot", Decimal("1.200"), False, True, 1, 0, None, 1),
        2: ("bot", Decimal("2.500"), False, True, 1, 0, None, 2),
        3: ("bot", Decimal("0.800"), True, False, 1, 1, 1, 3),
        4: ("bot", Decimal("4.000"), False, True, 1, 0, None, 1),
        5: (None, None, False, False, 0, 0, None, 5),
    }


def test_daily_response_times(dbt_run: DbtRun) -> None:
    [row] = rows(dbt_run.url, """
        SELECT response_date, conversations_with_inbound, answered_conversations, bot_first_responses,
               round(p50_first_response_seconds::numeric, 3), round(p95_first_response_seconds::numeric, 3),
               round(max_first_response_seconds::numeric, 3), target_seconds, meets_target
        FROM marts.mart_response_times""")
    # 0.8, 1.2, 2.5, 4.0 s: the median is 1.85 s, the 95th percentile 3.775 s, over the 3 s target.
    assert row == (DAY, 5, 4, 4, Decimal("1.850"), Decimal("3.775"), Decimal("4.000"), 3.0, False)


def test_golden_contacts_orders_and_leads(dbt_run: DbtRun) -> None:
    contacts = dict(rows(dbt_run.url, "SELECT contact_id, golden_contact_id FROM marts.dim_contacts"))
    assert contacts == {1: 1, 2: 2, 3: 3, 4: 1, 5: 5}
    [ana] = rows(dbt_run.url, "SELECT paid_order_count, lifetime_revenue, conversation_count "
                              "FROM marts.dim_contacts WHERE contact_id = 1")
    assert ana == (1, Decimal("95.00"), 1)
    orders = rows(dbt_run.url, "SELECT order_number, golden_contact_id, is_paid, paid_revenue, item_quantity "
                               "FROM marts.fct_orders ORDER BY order_number")
    assert orders == [("ORD-1001", 1, True, Decimal("95.00"), 2), ("ORD-1002", 1, False, Decimal("0"), 1)]
    funnel = {r[0]: r[1:] for r in rows(dbt_run.url, "SELECT lead_category, people, people_with_paid_order "
                                                     "FROM marts.mart_lead_funnel")}
    # Four people (Ana counted once, by her latest score); only Ana paid.
    assert funnel == {"warm": (1, 1), "cold": (1, 0), "unscored": (2, 0)}


def test_daily_channel_metrics_and_costs(dbt_run: DbtRun) -> None:
    channels = {r[0]: r[1:] for r in rows(dbt_run.url, """
        SELECT channel, inbound_messages, bot_messages, human_messages, conversations_started,
               conversations_escalated, paid_orders, paid_revenue
        FROM marts.mart_daily_channel_metrics WHERE metric_date = '2026-03-02'""")}
    assert channels == {
        "whatsapp": (4, 4, 1, 3, 1, 1, Decimal("95.00")),
        "instagram": (1, 1, 0, 1, 0, 0, Decimal("0")),
        "messenger": (1, 1, 0, 1, 0, 0, Decimal("0")),
    }
    [cost] = rows(dbt_run.url, "SELECT calls, unsuccessful_calls, input_tokens, estimated_cost_usd "
                               "FROM marts.mart_ai_costs")
    assert cost == (2, 1, 2300, Decimal("0.002000"))
    [luz] = rows(dbt_run.url, "SELECT agent_name, tickets_assigned, tickets_live, p50_seconds_to_assign "
                              "FROM marts.mart_agent_performance")
    assert luz == ("Luz", 1, 1, 60.0)
    [mood] = rows(dbt_run.url, "SELECT analysed_messages, negative_messages, urgent_messages "
                               "FROM marts.mart_sentiment_daily")
    assert mood == (2, 1, 1)
