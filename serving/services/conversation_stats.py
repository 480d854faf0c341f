"""How the agent did over a period: replies sent, escalations, autonomous-resolution rate and the time from an
inbound message reaching us to its reply being handed to the Graph API (the demo's summary, the ops view)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

OUTCOMES_SQL = text("""
WITH period_conversations AS (
    SELECT DISTINCT m.conversation_id AS id
    FROM crm.messages m
    WHERE m.direction = 'inbound' AND m.created_at >= :since AND m.conversation_id IS NOT NULL
), escalated AS (
    SELECT DISTINCT t.conversation_id AS id FROM crm.tickets t JOIN period_conversations p ON p.id = t.conversation_id
), bot_answered AS (
    SELECT DISTINCT o.conversation_id AS id FROM crm.outbound_messages o
    JOIN period_conversations p ON p.id = o.conversation_id
    WHERE o.idempotency_key LIKE 'reply:%' AND o.status = 'sent'
), reply_latency AS (
    SELECT extract(epoch FROM o.sent_at - m.created_at) * 1000 AS ms
    FROM crm.outbound_messages o JOIN crm.messages m ON m.id = o.in_reply_to_message_id
    WHERE o.status = 'sent' AND o.sent_at IS NOT NULL AND m.created_at >= :since
)
SELECT
    (SELECT count(*) FROM period_conversations) AS conversations,
    (SELECT count(*) FROM crm.outbound_messages WHERE status = 'sent' AND created_at >= :since) AS replies_sent,
    (SELECT count(*) FROM crm.tickets WHERE created_at >= :since) AS escalations,
    (SELECT count(*) FROM bot_answered WHERE id NOT IN (SELECT id FROM escalated)) AS resolved_by_bot_alone,
    (SELECT count(*) FROM crm.orders WHERE created_at >= :since AND source = 'chat') AS draft_orders,
    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM reply_latency) AS p50_ms,
    (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) FROM reply_latency) AS p95_ms
""")


async def conversation_outcomes(session: AsyncSession, since: datetime) -> dict[str, Any]:
    """`autonomous_resolution_rate`: conversations the bot answered without any escalation, over all
    conversations with a customer message in the period."""
    row = (await session.execute(OUTCOMES_SQL, {"since": since})).mappings().one()
    outcomes = dict(row)
    outcomes["autonomous_resolution_rate"] = (row["resolved_by_bot_alone"] / row["conversations"]
                                              if row["conversations"] else None)
    return outcomes
