"""What the CRM knew about a lead before this message, for the conversion model's live features: the same
counts marts.lead_features takes up to a lead's decision time (messages, conversations, paid orders)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ml.contacts.phones import parse_phone

HISTORY_SQL = text("""
WITH person AS (SELECT id FROM crm.contacts WHERE phone_e164 = :phone ORDER BY id LIMIT 1)
SELECT
    (SELECT id FROM person) AS contact_id,
    (SELECT count(*) FROM crm.messages m WHERE m.contact_id = (SELECT id FROM person) AND m.direction = 'inbound'
        AND coalesce(m.sent_at, m.created_at) <= :now) AS inbound_messages,
    (SELECT count(DISTINCT m.conversation_id) FROM crm.messages m WHERE m.contact_id = (SELECT id FROM person)
        AND coalesce(m.sent_at, m.created_at) <= :now) AS conversations,
    o.prior_orders, o.prior_revenue, o.last_order_at
FROM (SELECT count(*) AS prior_orders, coalesce(sum(total), 0) AS prior_revenue,
             max(coalesce(placed_at, created_at)) AS last_order_at
      FROM crm.orders WHERE contact_id = (SELECT id FROM person) AND status IN ('paid', 'shipped', 'delivered')
        AND coalesce(placed_at, created_at) < :now) AS o
""")
# The dbt view of first responses (absent until dbt's first build, so asked for only once it exists).
RESPONSES_VIEW = "intermediate.int_conversation_first_responses"
RESPONSE_SQL = text(f"""
SELECT avg(r.first_response_seconds) FROM {RESPONSES_VIEW} r JOIN crm.conversations c ON c.id = r.conversation_id
WHERE c.contact_id = :contact AND r.first_response_at <= :now
""")


async def lead_history(session: AsyncSession, phone: str | None, message: str, now: datetime) -> dict[str, Any]:
    """Counts for the sender (by phone, E.164 after parsing); a stranger has none. The message being scored counts
    as one inbound message in one conversation, as the mart's row counts the lead's first message."""
    history: dict[str, Any] = {"message_length": len(message), "inbound_messages_so_far": 1,
                               "conversations_so_far": 1, "prior_orders": 0, "prior_revenue": 0.0,
                               "days_since_last_order": None, "prior_avg_first_response_seconds": None,
                               "contact_id": None}
    e164 = parse_phone(phone).e164 if phone else None
    if not e164:
        return history
    row = (await session.execute(HISTORY_SQL, {"phone": e164, "now": now})).one()
    if row.contact_id is None:
        return history
    history.update(contact_id=row.contact_id, inbound_messages_so_far=int(row.inbound_messages) + 1,
                   conversations_so_far=max(int(row.conversations), 1), prior_orders=int(row.prior_orders),
                   prior_revenue=float(row.prior_revenue),
                   days_since_last_order=(now - row.last_order_at).total_seconds() / 86400 if row.last_order_at
                   else None,
                   prior_avg_first_response_seconds=await _prior_response_seconds(session, row.contact_id, now))
    return history


async def _prior_response_seconds(session: AsyncSession, contact_id: int, now: datetime) -> float | None:
    if not (await session.execute(text("SELECT to_regclass(:view) IS NOT NULL"), {"view": RESPONSES_VIEW})).scalar():
        return None
    value = (await session.execute(RESPONSE_SQL, {"contact": contact_id, "now": now})).scalar()
    return float(value) if value is not None else None
