"""Forgetting a person (issue 9): their personal data is removed everywhere it lives, in one transaction, and what
stays is anonymous: a tombstone contact (no name, phone, email or identities) that keeps the conversations, orders
and scores counted in the aggregates.

Where it lives, and what happens there:
- crm: the contact (fields cleared, `attributes = {"erased_at": ...}`), its identities (deleted), messages of their
  conversations or sent to / by their ids (text, media, payloads cleared), delivery statuses, comments and feed
  events they wrote, the auto-responder's replies to them, outbound messages, NLU records (entities, triggers,
  reasoning), corrected labels, tickets' summaries, draft orders' addresses, lead-ad answers, automation events
  about them, consent events (deleted);
- raw webhook bodies that carried them (linked rows, and any stored body containing one of their identifiers);
- media files of their messages (unless the same bytes belong to someone else's message too);
- the warehouse and the marts: their rows are deleted now (the next run rebuilds from crm, where they are gone).
A person is the contact and every contact with the same phone number or email; the contacts deduplication merged
with it (a probabilistic match) only when asked (`include_cluster`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, ContactIdentity, ErasureRequest, MediaAttachment
from serving.services.media.storage import MediaStore
from serving.services.privacy.residue import Needles, find_residue
from serving.services.privacy.suppression import suppress
from serving.services.retention import release_file

log = structlog.get_logger(__name__)
DERIVED_SCHEMAS = ("warehouse", "staging", "intermediate", "marts")
PERSON_COLUMNS = ("contact_id", "golden_id", "golden_contact_id")


class NothingToForget(LookupError):
    """No contact matches what was asked for."""


@dataclass
class ErasureReport:
    confirmation_code: str
    contact_ids: list[int]
    removed: dict[str, int] = field(default_factory=dict)
    residue: list[str] = field(default_factory=list)  # table.column still holding an identifier (should be none)
    files: list[str] = field(default_factory=list)  # media keys to delete after the commit (delete_unused_files)


async def find_contacts(session: AsyncSession, *, contact_id: int | None = None, phone: str | None = None,
                        email: str | None = None, external_id: str | None = None) -> list[int]:
    """The contact(s) a request names: by id, E.164 phone, email or a channel id (Meta's user id)."""
    ids: set[int] = set()
    if contact_id is not None and await session.get(Contact, contact_id) is not None:
        ids.add(contact_id)
    if phone:
        digits = re.sub(r"\D", "", phone)  # "+507 6111-2233" as typed
        ids.update((await session.scalars(select(Contact.id).where(Contact.phone_e164 == f"+{digits}"))).all())
        ids.update((await session.scalars(select(ContactIdentity.contact_id).where(
            ContactIdentity.kind == "wa_id", ContactIdentity.external_id == digits))).all())
    if email:
        ids.update((await session.scalars(select(Contact.id).where(
            text("lower(crm.contacts.email) = lower(:email)")).params(email=email))).all())
    if external_id:
        ids.update((await session.scalars(select(ContactIdentity.contact_id).where(
            ContactIdentity.external_id == external_id))).all())
    return sorted(ids)


async def forget(session: AsyncSession, store: MediaStore, contact_ids: list[int], *, source: str,
                 now: datetime | None = None, request: ErasureRequest | None = None,
                 include_cluster: bool = False) -> ErasureReport:
    """Erases the people behind `contact_ids` in the caller's transaction. Commit it, then delete the media files
with `retention.delete_unused_files(session, store, report.files)`."""
    now = now or datetime.now(UTC)
    if not contact_ids:
        raise NothingToForget("no such contact")
    people = await with_duplicates(session, contact_ids, include_cluster)
    needles = await _needles(session, people)
    request = request or ErasureRequest(confirmation_code=new_code(), source=source)
    report = ErasureReport(request.confirmation_code, people)
    conn = await session.connection()
    params = {"ids": people, "ext": needles.identifiers or ["-"]}

    async def run(name: str, sql: str) -> None:
        result = await conn.execute(text(sql), params)
        report.removed[name] = report.removed.get(name, 0) + (result.rowcount or 0)

    # The person's messages: in their conversations, or to / from one of their ids.
    await conn.execute(text("DROP TABLE IF EXISTS erased_messages"))
    await conn.execute(text("""
        CREATE TEMP TABLE erased_messages ON COMMIT DROP AS
        SELECT m.id, m.external_id, m.raw_event_id FROM crm.messages m
        WHERE m.contact_id = ANY(:ids)
           OR m.conversation_id IN (SELECT id FROM crm.conversations WHERE contact_id = ANY(:ids))
           OR m.counterpart_external_id = ANY(:ext)"""), params)
    message_ids = [row[0] for row in await conn.execute(text("SELECT id FROM erased_messages"))]
    message_external_ids = [row[0] for row in await conn.execute(text(
        "SELECT external_id FROM erased_messages WHERE external_id IS NOT NULL "
        "UNION SELECT external_id FROM crm.outbound_messages WHERE external_id IS NOT NULL AND "
        "(contact_id = ANY(:ids) OR recipient_external_id = ANY(:ext))"), params)]
    await suppress(session, [*needles.all(), *needles.identifiers, *message_external_ids], now)
    attachments = (await session.scalars(select(MediaAttachment).where(
        MediaAttachment.message_id.in_(message_ids)).with_for_update())).all()
    for attachment in attachments:
        attachment.source_url = attachment.filename = None
        release_file(attachment, "erased", now, report.files)
    report.removed["media_files"] = len(attachments)
    await run("raw_webhook_bodies", """
        UPDATE crm.raw_webhook_events SET body = NULL, headers = '{}', unparsed = '[]', purged_at = now()
        WHERE body IS NOT NULL AND (
              id IN (SELECT raw_event_id FROM erased_messages)
           OR id IN (SELECT raw_event_id FROM crm.social_comments WHERE contact_id = ANY(:ids)
                     OR author_external_id = ANY(:ext))
           OR id IN (SELECT raw_event_id FROM crm.page_feed_events WHERE author_external_id = ANY(:ext))
           OR id IN (SELECT raw_event_id FROM crm.lead_ad_submissions WHERE contact_id = ANY(:ids))
           OR id IN (SELECT raw_event_id FROM crm.message_status_events WHERE counterpart_external_id = ANY(:ext)))""")
    for needle in needles.all():  # bodies that carry them without a row pointing back (a batch, a status)
        params["needle"] = needle
        await run("raw_webhook_bodies", """
            UPDATE crm.raw_webhook_events SET body = NULL, headers = '{}', unparsed = '[]', purged_at = now()
            WHERE body IS NOT NULL AND position(convert_to(:needle, 'UTF8') in body) > 0""")
    # Message ids go too: a WhatsApp message id (wamid) encodes the customer's phone number.
    await run("messages", """
        UPDATE crm.messages SET text = NULL, media = '[]', payload = '{}', context = NULL, referral = NULL,
               sender_profile = '{}', counterpart_external_id = 'erased', errors = NULL, status_error = NULL,
               external_id = 'erased:' || md5(coalesce(external_id, id::text)),
               dedup_key = 'erased:' || md5(dedup_key), reply_to_external_id = NULL,
               processed_at = coalesce(processed_at, now())
        WHERE id IN (SELECT id FROM erased_messages)""")
    await run("message_statuses", """
        UPDATE crm.message_status_events SET counterpart_external_id = NULL, details = '{}', errors = NULL,
               external_message_id = 'erased:' || md5(coalesce(external_message_id, id::text)),
               dedup_key = 'erased:' || md5(dedup_key)
        WHERE counterpart_external_id = ANY(:ext)
           OR external_message_id IN (SELECT external_id FROM erased_messages WHERE external_id IS NOT NULL)""")
    await run("outbound_messages", """
        UPDATE crm.outbound_messages SET text = NULL, payload = '{}', recipient_external_id = 'erased',
               last_error = NULL, external_id = 'erased:' || md5(coalesce(external_id, id::text)),
               status = CASE WHEN status = 'queued' THEN 'superseded' ELSE status END,
               error_code = CASE WHEN status = 'queued' THEN 'erased' ELSE error_code END
        WHERE contact_id = ANY(:ids) OR recipient_external_id = ANY(:ext)
           OR conversation_id IN (SELECT id FROM crm.conversations WHERE contact_id = ANY(:ids))""")
    # Queue locks name the customer ("customer:whatsapp:<wa_id>"): finished jobs go, waiting ones get a hash.
    params["patterns"] = [f"%{needle}%" for needle in needles.all()] or ["-"]
    await run("queue_jobs", """
        DELETE FROM crm.procrastinate_jobs WHERE status NOT IN ('todo', 'doing')
          AND (lock LIKE ANY(:patterns) OR queueing_lock LIKE ANY(:patterns))""")
    await run("queue_jobs", """
        UPDATE crm.procrastinate_jobs SET lock = 'erased:' || md5(lock)
        WHERE lock LIKE ANY(:patterns)""")
    await run("comments", """
        UPDATE crm.social_comments SET text = NULL, author_external_id = NULL, author_name = NULL, payload = '{}',
               processed_at = coalesce(processed_at, now())
        WHERE contact_id = ANY(:ids) OR author_external_id = ANY(:ext)""")
    await run("feed_events", """
        UPDATE crm.page_feed_events SET text = NULL, author_external_id = NULL, author_name = NULL, payload = '{}'
        WHERE author_external_id = ANY(:ext)""")
    await run("comment_replies", """
        UPDATE crm.comment_actions SET reply_text = NULL, recipient_external_id = NULL
        WHERE contact_id = ANY(:ids) OR recipient_external_id = ANY(:ext)""")
    for table, columns in (("intent_detections", "entities = '{}'"),
                           ("sentiment_analyses", "triggers = '[]'"),
                           ("lead_classifications", "signals = '[]', reasoning = ''"),
                           ("routing_decisions", "inputs = '{}', reasoning = ''")):
        await run("nlu_records", f"UPDATE crm.{table} SET {columns} WHERE contact_id = ANY(:ids) "
                                 "OR message_id IN (SELECT id FROM erased_messages)")
    await run("corrected_labels", "DELETE FROM crm.label_feedback WHERE message_id IN (SELECT id FROM erased_messages)")
    await run("tickets", "UPDATE crm.tickets SET summary = NULL, details = '{}' WHERE contact_id = ANY(:ids)")
    await run("conversations", "UPDATE crm.conversations SET agent_state = '{}' WHERE contact_id = ANY(:ids)")
    await run("orders", "UPDATE crm.orders SET shipping_city = NULL WHERE contact_id = ANY(:ids)")
    await run("carts", "UPDATE crm.carts SET checkout_url = NULL WHERE contact_id = ANY(:ids)")
    await run("lead_ads", "UPDATE crm.lead_ad_submissions SET field_data = NULL, payload = '{}' "
                          "WHERE contact_id = ANY(:ids)")
    await run("automation_events", """
        UPDATE crm.automation_events SET payload = jsonb_build_object('erased', true),
               status = CASE WHEN status = 'pending' THEN 'delivered' ELSE status END,
               target = CASE WHEN status = 'pending' THEN 'erased' ELSE target END
        WHERE (subject_type = 'contact' AND subject_id = ANY(CAST(:ids AS text[])))
           OR (payload ->> 'contact_id') = ANY(CAST(:ids AS text[]))""")
    await run("consent_events", "DELETE FROM crm.consent_events WHERE contact_id = ANY(:ids)")
    await run("identities", "DELETE FROM crm.contact_identities WHERE contact_id = ANY(:ids)")
    params["erased"] = now.isoformat()
    await run("contacts", """
        UPDATE crm.contacts SET display_name = NULL, first_name = NULL, last_name = NULL, phone_e164 = NULL,
               email = NULL, city = NULL, attributes = jsonb_build_object('erased_at', CAST(:erased AS text)),
               opted_out = true, updated_at = now()
        WHERE id = ANY(:ids)""")
    report.removed.update(await _derived_rows(session, people))
    report.residue = await find_residue(session, needles)
    request.status, request.completed_at = "completed", now
    request.contact_ids, request.summary = people, {k: v for k, v in report.removed.items() if v}
    session.add(request)
    await session.flush()
    log.info("privacy.contact_forgotten", confirmation_code=request.confirmation_code, contacts=people,
             source=source, removed=request.summary, residue=report.residue)
    return report


def new_code() -> str:
    return secrets.token_hex(8)


async def with_duplicates(session: AsyncSession, contact_ids: list[int], include_cluster: bool = False) -> list[int]:
    """The person behind the contacts: every contact with the same phone number or email (the person's own
    identifiers), and, with `include_cluster`, every contact deduplication merged with them (a probabilistic
    match: only on request, since a wrong merge would erase someone else)."""
    ids = set(contact_ids)
    rows = await session.execute(text("""
        SELECT o.id FROM crm.contacts c JOIN crm.contacts o
          ON (o.phone_e164 = c.phone_e164) OR (lower(o.email) = lower(c.email))
        WHERE c.id = ANY(:ids)"""), {"ids": sorted(ids)})
    ids |= {row[0] for row in rows}
    if include_cluster and await _table_exists(session, "warehouse", "contact_clusters"):
        rows = await session.execute(text("""
            SELECT contact_id FROM warehouse.contact_clusters WHERE golden_id IN (
                SELECT golden_id FROM warehouse.contact_clusters WHERE contact_id = ANY(:ids))"""), {"ids": sorted(ids)})
        ids |= {row[0] for row in rows}
    return sorted(ids)


async def _needles(session: AsyncSession, people: list[int]) -> Needles:
    contacts = (await session.scalars(select(Contact).where(Contact.id.in_(people)))).all()
    identities = (await session.scalars(select(ContactIdentity).where(ContactIdentity.contact_id.in_(people)))).all()
    phones = {c.phone_e164 for c in contacts if c.phone_e164}
    phones |= {f"+{i.external_id}" for i in identities if i.kind == "wa_id"}
    emails = {c.email for c in contacts if c.email}
    return Needles(phones=sorted(phones), emails=sorted(emails),
                   identifiers=sorted({i.external_id for i in identities if len(i.external_id) >= 6}))


async def _derived_rows(session: AsyncSession, people: list[int]) -> dict[str, int]:
    """Rows about them in the warehouse and the marts (tables, not views): deleted now; rebuilt without them."""
    removed: dict[str, int] = {}
    columns = await session.execute(text("""
        SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = ANY(:schemas) AND t.table_type = 'BASE TABLE' AND c.column_name = ANY(:columns)
          AND c.data_type IN ('bigint', 'integer')"""), {"schemas": list(DERIVED_SCHEMAS), "columns": list(PERSON_COLUMNS)})
    for schema, table, column in columns.all():
        result = await session.execute(text(f'DELETE FROM "{schema}"."{table}" WHERE "{column}" = ANY(:ids)'),
                                       {"ids": people})
        if result.rowcount:
            removed[f"{schema}.{table}"] = removed.get(f"{schema}.{table}", 0) + result.rowcount
    return removed


async def _table_exists(session: AsyncSession, schema: str, table: str) -> bool:
    return (await session.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"{schema}.{table}"})) is True
