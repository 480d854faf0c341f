"""What is due at `now`: follow-ups (flow 8), nurturing (10), closing offers (11), abandoned carts (12) and payment
reminders (13), as automation events. Each event's idempotency key names its subject and step, so ticking twice raises nothing new,
and a tick that was missed raises only the step due now (never a burst of the ones skipped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

FOLLOW_UP_STEPS = ((14 * 24, "4"), (168, "3"), (96, "2"), (24, "1"))  # hours of silence -> step (highest first)
CART_STEPS = ((24, "2"), (1, "1"))
PAYMENT_STEPS = {3: "due_in_3", 0: "due_today", -1: "overdue_1", -7: "overdue_7"}  # days until due -> step


@dataclass(frozen=True)
class DueEvent:
    event_type: str
    subject_type: str
    subject_id: str
    key: str
    payload: dict[str, Any]


def _step(hours: float, steps: tuple[tuple[int, str], ...]) -> str | None:
    return next((step for threshold, step in steps if hours >= threshold), None)


# The customer's last message per conversation, answered by us (an outbox row after it), not with a person now,
# contact not opted out; silent for 24 h to 30 days.
FOLLOW_UP_SQL = """
WITH last_inbound AS (
    SELECT DISTINCT ON (m.conversation_id) m.conversation_id, m.contact_id, m.id AS message_id,
           coalesce(m.sent_at, m.created_at) AS at
    FROM crm.messages m
    WHERE m.direction = 'inbound' AND m.conversation_id IS NOT NULL AND m.contact_id IS NOT NULL
    ORDER BY m.conversation_id, coalesce(m.sent_at, m.created_at) DESC, m.id DESC
)
SELECT l.conversation_id, l.contact_id, l.message_id, l.at
FROM last_inbound l
JOIN crm.contacts c ON c.id = l.contact_id
JOIN crm.conversations v ON v.id = l.conversation_id
WHERE NOT c.opted_out AND NOT v.bot_paused AND v.status NOT IN ('human', 'pending_human')
  AND l.at <= %(now)s - interval '24 hours' AND l.at > %(now)s - interval '30 days'
  AND EXISTS (SELECT 1 FROM crm.outbound_messages o WHERE o.conversation_id = l.conversation_id
              AND o.created_at >= l.at AND o.created_at <= %(now)s)
  AND NOT EXISTS (SELECT 1 FROM crm.orders r WHERE r.contact_id = l.contact_id  -- they bought since: no chasing
                  AND coalesce(r.placed_at, r.created_at) >= l.at)
"""


def due_follow_ups(conn: psycopg.Connection, now: datetime) -> list[DueEvent]:
    events = []
    for conversation_id, contact_id, message_id, at in conn.execute(FOLLOW_UP_SQL, {"now": now}).fetchall():
        step = _step((now - at).total_seconds() / 3600, FOLLOW_UP_STEPS)
        if step is None:
            continue
        subject = f"{conversation_id}:{message_id}"  # a reply starts a new subject: the old sequence ends
        events.append(DueEvent("follow_up.due", "conversation", str(conversation_id),
                               f"follow_up.due:{subject}:{step}",
                               {"contact_id": contact_id, "kind": "follow_up", "step": step, "subject": subject,
                                "conversation_id": conversation_id, "silent_since": at.isoformat(), "context": {}}))
    return events


# Flow 11: a hot lead (from the lead.hot events) with purchase intent and no order since, after `wait_hours`.
CLOSER_SQL = """
SELECT DISTINCT ON (e.subject_id) e.subject_id::bigint AS contact_id, e.created_at, e.payload->>'message_id'
FROM crm.automation_events e JOIN crm.contacts c ON c.id = e.subject_id::bigint
WHERE e.event_type = 'lead.hot' AND NOT c.opted_out
  AND e.created_at <= %(now)s - make_interval(hours => %(wait)s) AND e.created_at > %(now)s - interval '14 days'
  AND EXISTS (SELECT 1 FROM crm.intent_detections d WHERE d.contact_id = c.id
              AND d.primary_intent IN ('purchase_inquiry', 'pricing_question'))
  AND NOT EXISTS (SELECT 1 FROM crm.orders o WHERE o.contact_id = c.id AND coalesce(o.placed_at, o.created_at)
                  >= e.created_at)
ORDER BY e.subject_id, e.created_at DESC
"""


def due_closers(conn: psycopg.Connection, now: datetime, wait_hours: int, max_discount: int) -> list[DueEvent]:
    events = []
    for contact_id, hot_at, _ in conn.execute(CLOSER_SQL, {"now": now, "wait": wait_hours}).fetchall():
        product = conn.execute(
            "SELECT p.name FROM crm.intent_detections d, jsonb_array_elements_text(coalesce(d.entities->'products', "
            "'[]'::jsonb)) AS mentioned JOIN crm.products p ON p.sku = mentioned OR p.name = mentioned "
            "WHERE d.contact_id = %s ORDER BY d.id DESC LIMIT 1", (contact_id,)).fetchone()
        subject = f"{contact_id}:{int(hot_at.timestamp()) // (14 * 86400)}"  # one offer per contact a fortnight
        events.append(DueEvent("closer.due", "contact", str(contact_id), f"closer.due:{subject}:1",
                               {"contact_id": contact_id, "kind": "closing_offer", "step": "1", "subject": subject,
                                "context": {"discount": str(max_discount),
                                            "product": product[0] if product else None}}))
    return events


# Flow 10: passive leads (cold or warm, silent 15-60 days, i.e. after the follow-up sequence, no order) get one
# piece of content a week.
NURTURING_SQL = """
SELECT c.id, c.lead_category, v.last_intent, max(coalesce(m.sent_at, m.created_at)) AS last_at
FROM crm.contacts c JOIN crm.conversations v ON v.contact_id = c.id
JOIN crm.messages m ON m.contact_id = c.id AND m.direction = 'inbound'
WHERE NOT c.opted_out AND c.lead_category IN ('cold', 'warm')
  AND NOT EXISTS (SELECT 1 FROM crm.orders o WHERE o.contact_id = c.id)
GROUP BY c.id, c.lead_category, v.last_intent
HAVING max(coalesce(m.sent_at, m.created_at)) <= %(now)s - interval '15 days'
   AND max(coalesce(m.sent_at, m.created_at)) > %(now)s - interval '60 days'
"""
NURTURING_CONTENT = {
    "pricing_question": "cómo elegir según tu presupuesto: comparativa de precios y financiamiento.",
    "product_info": "guía rápida para comparar modelos antes de comprar.",
    "purchase_inquiry": "las novedades que llegaron esta semana.",
}


def due_nurturing(conn: psycopg.Connection, now: datetime) -> list[DueEvent]:
    events = []
    for contact_id, _, last_intent, last_at in conn.execute(NURTURING_SQL, {"now": now}).fetchall():
        week = (now - last_at).days // 7  # one drip a week of silence
        subject = f"{contact_id}:{int(last_at.timestamp())}"
        content = NURTURING_CONTENT.get(last_intent or "", "consejos y ofertas de la semana.")
        events.append(DueEvent("nurturing.due", "contact", str(contact_id), f"nurturing.due:{subject}:{week}",
                               {"contact_id": contact_id, "kind": "nurturing", "step": "1", "subject": f"{subject}:{week}",
                                "context": {"content": content}}))
    return events


CART_SQL = """
SELECT k.id, k.contact_id, k.last_activity_at, k.checkout_url, k.total, k.currency
FROM crm.carts k JOIN crm.contacts c ON c.id = k.contact_id
WHERE k.status IN ('open', 'abandoned') AND NOT c.opted_out AND k.last_activity_at IS NOT NULL
  AND k.last_activity_at <= %(now)s - interval '1 hour' AND k.last_activity_at > %(now)s - interval '7 days'
"""


def due_carts(conn: psycopg.Connection, now: datetime) -> list[DueEvent]:
    events = []
    for cart_id, contact_id, active_at, url, total, currency in conn.execute(CART_SQL, {"now": now}).fetchall():
        step = _step((now - active_at).total_seconds() / 3600, CART_STEPS)
        if step is None:
            continue
        subject = f"{cart_id}:{int(active_at.timestamp())}"  # activity on the cart starts over
        events.append(DueEvent("cart.abandoned", "cart", str(cart_id), f"cart.abandoned:{subject}:{step}",
                               {"contact_id": contact_id, "kind": "cart_recovery", "step": step, "subject": subject,
                                "context": {"checkout_url": url or "", "amount": f"{total} {currency}"}}))
    return events


INVOICE_SQL = """
SELECT i.id, i.contact_id, i.invoice_number, i.amount, i.currency, i.due_at
FROM crm.invoices i JOIN crm.contacts c ON c.id = i.contact_id
WHERE i.status IN ('open', 'overdue') AND i.paid_at IS NULL AND i.due_at IS NOT NULL AND NOT c.opted_out
"""


def due_payments(conn: psycopg.Connection, now: datetime, timezone: str) -> list[DueEvent]:
    today = now.astimezone(ZoneInfo(timezone)).date()
    events = []
    for invoice_id, contact_id, number, amount, currency, due_at in conn.execute(INVOICE_SQL).fetchall():
        step = PAYMENT_STEPS.get((due_at.astimezone(ZoneInfo(timezone)).date() - today).days)
        if step is None:
            continue
        events.append(DueEvent("payment.reminder_due", "invoice", str(invoice_id),
                               f"payment.reminder_due:{invoice_id}:{step}",
                               {"contact_id": contact_id, "kind": "payment_reminder", "step": step, "subject": str(invoice_id),
                                "context": {"invoice": number, "amount": f"{amount} {currency}"}}))
    return events


def raise_events(conn: psycopg.Connection, events: list[DueEvent], now: datetime) -> int:
    """Writes the events (one transaction), raised at `now`; returns how many were new."""
    new = 0
    with conn.transaction():
        for event in events:
            row = conn.execute(
                "INSERT INTO crm.automation_events (event_type, subject_type, subject_id, payload, idempotency_key, "
                "target, created_at) VALUES (%s, %s, %s, %s, %s, 'n8n', %s) ON CONFLICT (idempotency_key) DO NOTHING "
                "RETURNING id",
                (event.event_type, event.subject_type, event.subject_id, json.dumps(event.payload, default=str),
                 event.key, now)).fetchone()
            new += row is not None
    return new
