"""Automation with a frozen clock: a silent customer walked through the follow-up sequence (each step once, however
often the schedule ticks), a reply or an opt-out stopping it, carts and invoices, and the dispatcher delivering to
the local actions or to n8n (signed), with retries and a dead letter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import respx

from crm.db.engine import create_engine, session_factory
from orchestration.defs.automation.schedules import tick
from orchestration.defs.resources import WarehouseResource
from serving.services.automation.dispatcher import SIGNATURE_HEADER, dispatch_due, sign
from tests.helpers import make_settings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in Panama: outside quiet hours
TZ = "America/Panama"


def setup_conversation(url: str) -> tuple[int, int]:
    """A WhatsApp customer who asked something at T0 and got our answer 3 s later; then silence."""
    with psycopg.connect(url, autocommit=True) as conn:
        contact = conn.execute("INSERT INTO crm.contacts (display_name, first_name, language) VALUES "
                               "('Ana Ruiz', 'Ana', 'es') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO crm.contact_identities (contact_id, channel, kind, external_id, "
                     "account_external_id) VALUES (%s, 'whatsapp', 'wa_id', '50761234567', 'waba-1')", (contact,))
        conversation = conn.execute(
            "INSERT INTO crm.conversations (contact_id, channel, account_external_id, status, last_message_at) "
            "VALUES (%s, 'whatsapp', 'waba-1', 'open', %s) RETURNING id", (contact, T0)).fetchone()[0]
        inbound(conn, contact, conversation, "¿tienen la laptop lenovo?", T0)
        conn.execute("INSERT INTO crm.outbound_messages (idempotency_key, conversation_id, contact_id, channel, "
                     "account_external_id, recipient_external_id, payload, status, created_at) VALUES "
                     "('reply:1', %s, %s, 'whatsapp', 'waba-1', '50761234567', '{}', 'sent', %s)",
                     (conversation, contact, T0 + timedelta(seconds=3)))
    return contact, conversation


def inbound(conn: psycopg.Connection, contact: int, conversation: int, text: str, at: datetime) -> None:
    conn.execute("INSERT INTO crm.messages (channel, dedup_key, direction, message_type, text, "
                 "counterpart_external_id, sent_at, contact_id, conversation_id) VALUES "
                 "('whatsapp', %s, 'inbound', 'text', %s, '50761234567', %s, %s, %s)",
                 (f"in-{at.isoformat()}", text, at, contact, conversation))


def ticks(url: str, hours: float, flows: tuple[str, ...] = ("follow_up",)) -> dict[str, int]:
    return tick(WarehouseResource(dsn=url), flows, T0 + timedelta(hours=hours), TZ)


def events(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT event_type, payload->>'step', status, payload->'result'->>'status', "
                            "payload->'result'->>'reason' FROM crm.automation_events ORDER BY id").fetchall()


async def dispatch(url: str, hours: float, **settings: object):  # noqa: ANN201
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            report = await dispatch_due(session, make_settings(url, **settings), T0 + timedelta(hours=hours))
            await session.commit()
        return report
    finally:
        await engine.dispose()


def automated_messages(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT text FROM crm.outbound_messages WHERE idempotency_key "
                                               "LIKE 'auto:%' ORDER BY id").fetchall()]


async def test_a_silent_lead_walks_the_sequence_once_and_a_reply_ends_it(clean_db: str) -> None:
    contact, conversation = setup_conversation(clean_db)
    assert ticks(clean_db, 23) == {"follow_up": 0}, "not silent for 24 h yet"
    assert ticks(clean_db, 25) == {"follow_up": 1}
    assert ticks(clean_db, 25.5) == {"follow_up": 0}, "the same step is never raised twice"
    report = await dispatch(clean_db, 25.5)
    assert report.delivered == 1
    assert automated_messages(clean_db)[0].startswith("Hola Ana, te dejo un dato útil")

    assert ticks(clean_db, 60) == {"follow_up": 0}
    assert ticks(clean_db, 97) == {"follow_up": 1}, "96 h: the soft-urgency step"
    with psycopg.connect(clean_db, autocommit=True) as conn:  # the customer answers before it goes out
        inbound(conn, contact, conversation, "sí, la quiero", T0 + timedelta(hours=98))
    await dispatch(clean_db, 99)
    assert events(clean_db)[-1] == ("follow_up.due", "2", "delivered", "skipped", "customer_replied")
    assert len(automated_messages(clean_db)) == 1, "nothing sent after the reply"
    assert ticks(clean_db, 170) == {"follow_up": 0}, "a reply ends the sequence (no answer of ours since)"


async def test_the_last_steps_then_nothing_and_opt_out_stops_it(clean_db: str) -> None:
    contact, _ = setup_conversation(clean_db)
    assert ticks(clean_db, 200) == {"follow_up": 1}, "a missed schedule raises only the step due now (168 h)"
    assert [e[1] for e in events(clean_db)] == ["3"]
    assert ticks(clean_db, 14 * 24 + 1) == {"follow_up": 1}, "14 days: passive nurturing"
    assert ticks(clean_db, 31 * 24) == {"follow_up": 0}, "after the last step, nothing"
    await dispatch(clean_db, 14 * 24 + 2)
    texts = automated_messages(clean_db)
    assert "BAJA" in texts[0] and len(texts) == 2, "the last-chance step offers the opt-out"

    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("UPDATE crm.contacts SET opted_out = true WHERE id = %s", (contact,))
        conn.execute("DELETE FROM crm.automation_events")
    assert ticks(clean_db, 25) == {"follow_up": 0}, "an opted-out contact is never followed up"


async def test_quiet_hours_defer_and_the_daily_cap_holds(clean_db: str) -> None:
    setup_conversation(clean_db)
    ticks(clean_db, 25)
    night = 25 + 12  # 23:00 in Panama
    report = await dispatch(clean_db, night)
    assert report.deferred == 1 and report.delivered == 0
    with psycopg.connect(clean_db) as conn:
        retry = conn.execute("SELECT next_attempt_at, status, attempts FROM crm.automation_events").fetchone()
    assert retry[1:] == ("pending", 0) and retry[0].astimezone(UTC).hour == 13, "08:00 Panama"
    report = await dispatch(clean_db, night + 10)  # 09:00 the next morning: sent
    assert report.delivered == 1 and len(automated_messages(clean_db)) == 1

    ticks(clean_db, 97)
    report = await dispatch(clean_db, 97.2, automation_daily_cap=0)
    assert report.deferred == 1 and events(clean_db)[-1][2:] == ("pending", "deferred", "frequency_cap"), \
        "over the cap a message waits, it is not dropped"


async def test_carts_and_invoices(clean_db: str) -> None:
    contact, _ = setup_conversation(clean_db)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.carts (contact_id, status, total, last_activity_at, checkout_url) VALUES "
                     "(%s, 'abandoned', 120, %s, 'https://shop.example/c/9')", (contact, T0))
        for number, days in (("F-3", 3), ("F-0", 0), ("F-1", -1), ("F-7", -7), ("F-5", -5)):
            conn.execute("INSERT INTO crm.invoices (invoice_number, contact_id, amount, status, due_at) VALUES "
                         "(%s, %s, 50, 'open', %s)", (number, contact, T0 + timedelta(days=days)))
    assert ticks(clean_db, 0.5, ("cart",)) == {"cart": 0}
    assert ticks(clean_db, 1.5, ("cart",)) == {"cart": 1}
    assert ticks(clean_db, 2, ("cart",)) == {"cart": 0}
    assert ticks(clean_db, 25, ("cart",)) == {"cart": 1}, "the 24 h reminder"
    assert ticks(clean_db, 0, ("payment",)) == {"payment": 4}, "due in 3 days, today, 1 and 7 days overdue"
    assert ticks(clean_db, 3, ("payment",)) == {"payment": 0}
    assert ticks(clean_db, 24, ("payment",)) == {"payment": 1}, "tomorrow F-0 is a day overdue"
    await dispatch(clean_db, 3)
    assert len(automated_messages(clean_db)) == 2, "at most two automated messages a day"
    await dispatch(clean_db, 3.1, automation_daily_cap=10)
    assert len(automated_messages(clean_db)) == 2, "the capped ones wait for their retry time"
    with psycopg.connect(clean_db) as conn:
        due = conn.execute("SELECT count(*) FROM crm.automation_events WHERE event_type IN ('cart.abandoned', "
                           "'payment.reminder_due')").fetchone()[0]
    for day in range(1, 7):  # a day later, two more each day
        await dispatch(clean_db, 3 + 24 * day + 0.5)
    texts = automated_messages(clean_db)
    assert len(texts) == due, "none dropped"
    assert any("https://shop.example/c/9" in t for t in texts) and any("F-7" in t for t in texts)


@respx.mock
async def test_with_n8n_events_are_signed_retried_and_dead_lettered(clean_db: str) -> None:
    setup_conversation(clean_db)
    ticks(clean_db, 25)
    received: list[httpx.Request] = []

    def n8n(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json={"ok": True})

    respx.post("http://n8n.test/webhook/crm-08").mock(side_effect=n8n)
    n8n_settings = {"n8n_base_url": "http://n8n.test", "automation_webhook_secret": "s3cret"}
    report = await dispatch(clean_db, 25.1, **n8n_settings)
    assert report.delivered == 1 and len(received) == 1
    request = received[0]
    assert request.headers[SIGNATURE_HEADER] == sign("s3cret", request.content)
    body = json.loads(request.content)
    assert body["type"] == "follow_up.due" and body["payload"]["step"] == "1"
    assert automated_messages(clean_db) == [], "n8n sends it, through the action API"

    ticks(clean_db, 97)
    respx.post("http://n8n.test/webhook/crm-08").mock(return_value=httpx.Response(502))
    for hours in (97.1, 97.1 + 10 / 3600, 97.1 + 20 / 3600):  # 10 s apart: inside the first 30 s backoff
        await dispatch(clean_db, hours, automation_max_attempts=3, **n8n_settings)
    with psycopg.connect(clean_db) as conn:
        status, attempts, error = conn.execute("SELECT status, attempts, last_error FROM crm.automation_events "
                                               "ORDER BY id DESC LIMIT 1").fetchone()
    assert (status, attempts) == ("pending", 1), "backoff: the next tries were not due yet"
    for hours in (98, 99, 100):
        await dispatch(clean_db, hours, automation_max_attempts=3, **n8n_settings)
    with psycopg.connect(clean_db) as conn:
        status, attempts, error = conn.execute("SELECT status, attempts, last_error FROM crm.automation_events "
                                               "ORDER BY id DESC LIMIT 1").fetchone()
    assert (status, attempts) == ("dead_letter", 3) and "502" in error


async def test_the_action_api_n8n_calls(clean_db: str, db: psycopg.AsyncConnection) -> None:
    from tests.helpers import add_api_key, api_client

    contact, _ = setup_conversation(clean_db)
    automation, read = await add_api_key(db, "automation"), await add_api_key(db, "read")
    body = {"contact_id": contact, "step": "1", "subject": "cart-9",
            "raised_at": datetime.now(UTC).isoformat(), "context": {"checkout_url": "https://shop.example/c/9"}}
    async with api_client(make_settings(clean_db, automation_quiet_start_hour=0, automation_quiet_end_hour=0)) as api:
        assert (await api.post("/api/v1/automation/actions/cart_recovery", json=body, headers=read)).status_code == 403
        first = await api.post("/api/v1/automation/actions/cart_recovery", json=body, headers=automation)
        again = await api.post("/api/v1/automation/actions/cart_recovery", json=body, headers=automation)
        unknown = await api.post("/api/v1/automation/actions/cart_recovery", json={**body, "contact_id": 999999},
                                 headers=automation)
        bad_step = await api.post("/api/v1/automation/actions/cart_recovery", json={**body, "step": "9"},
                                  headers=automation)
        bad_kind = await api.post("/api/v1/automation/actions/discount", json=body, headers=automation)
    assert first.status_code == 200 and first.json()["status"] == "queued" and first.json()["outbound_id"]
    assert again.json() == {"status": "duplicate", "reason": "already sent for this step", "outbound_id": None,
                            "retry_at": None}
    assert unknown.status_code == 404 and bad_step.status_code == 422 and bad_kind.status_code == 422
    assert automated_messages(clean_db) == ["Hola Ana, dejaste productos en tu carrito. Puedes completar tu compra "
                                            "aquí: https://shop.example/c/9"]


async def test_passive_leads_are_nurtured_weekly_and_hot_ones_get_a_closing_offer(clean_db: str) -> None:
    contact, conversation = setup_conversation(clean_db)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("UPDATE crm.contacts SET lead_category = 'warm' WHERE id = %s", (contact,))
        conn.execute("UPDATE crm.conversations SET last_intent = 'pricing_question' WHERE id = %s", (conversation,))
    assert ticks(clean_db, 24 * 14, ("nurturing",)) == {"nurturing": 0}, "the follow-up sequence comes first"
    assert ticks(clean_db, 24 * 16, ("nurturing",)) == {"nurturing": 1}
    assert ticks(clean_db, 24 * 17, ("nurturing",)) == {"nurturing": 0}, "one a week"
    assert ticks(clean_db, 24 * 22, ("nurturing",)) == {"nurturing": 1}
    with psycopg.connect(clean_db) as conn:
        content = conn.execute("SELECT payload->'context'->>'content' FROM crm.automation_events").fetchone()[0]
    assert "presupuesto" in content, "matched to what they asked about"

    with psycopg.connect(clean_db, autocommit=True) as conn:  # a hot lead asking to buy, then nothing
        conn.execute("DELETE FROM crm.automation_events")
        message = conn.execute("SELECT id FROM crm.messages LIMIT 1").fetchone()[0]
        conn.execute("INSERT INTO crm.intent_detections (message_id, contact_id, source, model, primary_intent, "
                     "confidence, created_at) VALUES (%s, %s, 'pipeline', 'local', 'purchase_inquiry', 0.9, %s)",
                     (message, contact, T0))
        conn.execute("INSERT INTO crm.automation_events (event_type, subject_type, subject_id, payload, "
                     "idempotency_key, created_at) VALUES ('lead.hot', 'contact', %s, '{}', 'hot-1', %s)",
                     (str(contact), T0))
    assert ticks(clean_db, 5, ("closer",)) == {"closer": 0}, "gives them 6 h first"
    assert ticks(clean_db, 7, ("closer",)) == {"closer": 1}
    assert ticks(clean_db, 8, ("closer",)) == {"closer": 0}
    await dispatch(clean_db, 8)
    assert "10% de descuento" in automated_messages(clean_db)[-1], "within the configured maximum discount"


async def test_alerts_raise_once_per_condition_and_bucket(clean_db: str) -> None:
    from orchestration.defs.automation.alerts import check_alerts, failed_check_alerts
    from orchestration.defs.automation.due import raise_events

    contact, conversation = setup_conversation(clean_db)
    now = T0 + timedelta(hours=1)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.automation_events (event_type, subject_type, subject_id, payload, "
                     "idempotency_key, created_at) VALUES ('lead.hot', 'contact', %s, '{}', 'hot-x', %s)",
                     (str(contact), now - timedelta(minutes=20)))
        for n in range(6):
            conn.execute("INSERT INTO crm.sentiment_analyses (contact_id, source, model, sentiment, score, "
                         "confidence, urgency_level, churn_risk, created_at) VALUES (%s, 'pipeline', 'local', "
                         "'negative', -0.8, 0.9, 'high', 4, %s)", (contact, now - timedelta(minutes=n + 1)))
        for n in range(25):
            conn.execute("INSERT INTO crm.raw_webhook_events (body_sha256, signature_state, processing_status, "
                         "received_at) VALUES (%s, 'valid', %s, %s)",
                         (f"sha-{n}".encode(), "dead_letter" if n < 3 else "processed", now - timedelta(minutes=5)))
    with psycopg.connect(clean_db) as conn:
        alerts = check_alerts(conn, now)
        names = sorted(a.payload["alert"] for a in alerts)
        assert names == ["dead_letters", "hot_lead_unattended", "negative_sentiment_spike", "webhook_error_rate"]
        assert raise_events(conn, alerts, now) == 4
        assert raise_events(conn, check_alerts(conn, now + timedelta(minutes=5)), now) == 0, "same bucket: once"
    (failed,) = failed_check_alerts([("warehouse/contacts_clean", "emails_are_well_formed", "run-1")])
    assert failed.payload["alert"] == "data_quality_check_failed" and "emails_are_well_formed" in failed.key



async def test_a_failing_action_is_retried_then_dead_lettered(clean_db: str) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:  # its contact was erased since
        conn.execute("INSERT INTO crm.automation_events (event_type, subject_type, subject_id, payload, "
                     "idempotency_key, created_at) VALUES ('cart.abandoned', 'cart', '1', "
                     "'{\"contact_id\": 424242, \"kind\": \"cart_recovery\", \"step\": \"1\"}', 'gone-1', %s)", (T0,))
    first = await dispatch(clean_db, 1, automation_max_attempts=2)
    assert first.failed == 1
    await dispatch(clean_db, 1.001, automation_max_attempts=2)  # inside the backoff: not retried yet
    second = await dispatch(clean_db, 2, automation_max_attempts=2)
    assert second.dead == 1
    with psycopg.connect(clean_db) as conn:
        status, attempts, error = conn.execute("SELECT status, attempts, last_error FROM crm.automation_events")\
            .fetchone()
    assert (status, attempts) == ("dead_letter", 2) and "no contact 424242" in error


def test_the_dagster_schedules_and_sensors_evaluate_against_the_database(clean_db: str) -> None:
    import dagster as dg

    from orchestration.defs.automation.schedules import (
        ai_closer_sensor,
        cart_recovery_sensor,
        follow_up_schedule,
        nurturing_sensor,
        payment_reminder_schedule,
    )

    contact, _ = setup_conversation(clean_db)
    with psycopg.connect(clean_db, autocommit=True) as conn:  # a cart left 2 hours ago, in real time
        conn.execute("INSERT INTO crm.carts (contact_id, status, total, last_activity_at) VALUES "
                     "(%s, 'open', 10, now() - interval '2 hours')", (contact,))
    warehouse = {"warehouse": WarehouseResource(dsn=clean_db)}
    with dg.instance_for_test() as instance:
        for schedule in (follow_up_schedule, payment_reminder_schedule):
            result = schedule(dg.build_schedule_context(instance=instance, resources=warehouse))
            assert isinstance(result, dg.SkipReason) and "raised {" in result.skip_message
        outcomes = [sensor(dg.build_sensor_context(instance=instance, resources=warehouse)).skip_message
                    for sensor in (cart_recovery_sensor, nurturing_sensor, ai_closer_sensor)]
    assert outcomes[0] == "raised {'cart': 1}" and outcomes[1:] == ["raised {'nurturing': 0}", "raised {'closer': 0}"]
