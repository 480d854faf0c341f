"""Everything held about a person, as JSON (issue 9: the right of access). The person is the contact and the
contacts with the same phone or email (plus deduplication's cluster when asked); each section is a list of rows as
stored (times in ISO 8601)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from serving.services.privacy.erasure import NothingToForget, with_duplicates

# Section -> query over :ids (the person's contact ids). Columns are named so the export reads on its own.
SECTIONS: dict[str, str] = {
    "contacts": "SELECT id, display_name, first_name, last_name, phone_e164, email, language, country, city, "
                "source_channel, lead_score, lead_category, opted_out, attributes, created_at "
                "FROM crm.contacts WHERE id = ANY(:ids) ORDER BY id",
    "identities": "SELECT contact_id, channel, kind, external_id, display_name, created_at "
                  "FROM crm.contact_identities WHERE contact_id = ANY(:ids) ORDER BY id",
    "consent": "SELECT contact_id, kind, scope, channel, source, evidence, occurred_at "
               "FROM crm.consent_events WHERE contact_id = ANY(:ids) ORDER BY occurred_at, id",
    "conversations": "SELECT id, contact_id, channel, status, close_reason, csat_score, created_at, closed_at "
                     "FROM crm.conversations WHERE contact_id = ANY(:ids) ORDER BY id",
    "messages": "SELECT m.id, m.conversation_id, m.channel, m.direction, m.message_type, m.text, m.media, "
                "m.sent_at, m.status FROM crm.messages m WHERE m.contact_id = ANY(:ids) OR m.conversation_id IN "
                "(SELECT id FROM crm.conversations WHERE contact_id = ANY(:ids)) ORDER BY m.sent_at NULLS LAST, m.id",
    "media": "SELECT a.id, a.message_id, a.kind, a.mime_type, a.size_bytes, a.sha256, a.status, a.stored_at "
             "FROM crm.media_attachments a JOIN crm.messages m ON m.id = a.message_id "
             "WHERE m.contact_id = ANY(:ids) ORDER BY a.id",
    "comments": "SELECT channel, external_id, kind, verb, post_external_id, text, created_time "
                "FROM crm.social_comments WHERE contact_id = ANY(:ids) ORDER BY id",
    "comment_replies": "SELECT channel, comment_external_id, action, reply_text, status, done_at "
                       "FROM crm.comment_actions WHERE contact_id = ANY(:ids) ORDER BY id",
    "orders": "SELECT o.id, o.order_number, o.status, o.total, o.currency, o.placed_at, o.shipping_city, "
              "(SELECT coalesce(jsonb_agg(jsonb_build_object('sku', l.sku, 'name', l.name, 'quantity', l.quantity, "
              "'unit_price', l.unit_price)), '[]') FROM crm.order_lines l WHERE l.order_id = o.id) AS lines "
              "FROM crm.orders o WHERE o.contact_id = ANY(:ids) ORDER BY o.id",
    "carts": "SELECT id, status, total, currency, updated_at FROM crm.carts WHERE contact_id = ANY(:ids) ORDER BY id",
    "invoices": "SELECT invoice_number, status, amount, currency, due_at, paid_at "
                "FROM crm.invoices WHERE contact_id = ANY(:ids) ORDER BY id",
    "tickets": "SELECT id, department, priority, reasons, summary, status, created_at "
               "FROM crm.tickets WHERE contact_id = ANY(:ids) ORDER BY id",
    "lead_scores": "SELECT score, category, signals, reasoning, created_at "
                   "FROM crm.lead_classifications WHERE contact_id = ANY(:ids) ORDER BY id",
    "messages_sent_to_them": "SELECT channel, kind, text, status, created_at, sent_at "
                             "FROM crm.outbound_messages WHERE contact_id = ANY(:ids) ORDER BY id",
}


async def export_person(session: AsyncSession, contact_id: int, include_cluster: bool = False) -> dict[str, Any]:
    exists = await session.scalar(text("SELECT 1 FROM crm.contacts WHERE id = :id"), {"id": contact_id})
    if not exists:
        raise NothingToForget(f"no contact {contact_id}")
    ids = await with_duplicates(session, [contact_id], include_cluster)
    data: dict[str, Any] = {"contact_id": contact_id, "contact_ids": ids,
                            "exported_at": datetime.now(UTC).isoformat()}
    for section, sql in SECTIONS.items():
        rows = (await session.execute(text(sql), {"ids": ids})).mappings().all()
        data[section] = [{key: _plain(value) for key, value in row.items()} for row in rows]
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
