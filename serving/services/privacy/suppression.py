"""After an erasure, Meta may still send webhooks about the person: read receipts for old messages, a retried
delivery in a new envelope. Their channel ids and message ids are kept as keyed hashes (HMAC with CRM_SECRET_KEY,
so the list cannot be read back by guessing phone numbers without the key); the worker blanks anything matching
them from before the erasure instead of re-creating the person. A person who writes again later is a new
conversation, with new consent."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Message, MessageStatusEvent, SocialComment
from crm.settings import get_settings

def identifier_hash(value: str) -> str:
    key = (get_settings().crm_secret_key or "autonomous-crm-erasure").encode()
    return hmac.new(key, value.strip().encode(), hashlib.sha256).hexdigest()


async def suppress(session: AsyncSession, values: list[str], erased_at: datetime) -> None:
    rows = [{"identifier_hash": identifier_hash(v), "erased_at": erased_at} for v in set(values) if v]
    _NONE_CHECKED_AT[0] = 0.0
    if rows:
        await session.execute(text(
            "INSERT INTO crm.erasure_suppressions (identifier_hash, erased_at) "
            "SELECT h, e FROM unnest(CAST(:hashes AS text[]), CAST(:ats AS timestamptz[])) AS t(h, e) "
            "ON CONFLICT (identifier_hash) DO UPDATE SET erased_at = EXCLUDED.erased_at"),
            {"hashes": [r["identifier_hash"] for r in rows], "ats": [r["erased_at"] for r in rows]})


async def suppressed(session: AsyncSession, values: list[str]) -> dict[str, datetime]:
    """value -> when it was erased, for the values that belong to a forgotten person."""
    wanted = {identifier_hash(v): v for v in set(values) if v}
    if not wanted:
        return {}
    rows = await session.execute(text(
        "SELECT identifier_hash, erased_at FROM crm.erasure_suppressions WHERE identifier_hash = ANY(:hashes)"),
        {"hashes": list(wanted)})
    return {wanted[h]: at for h, at in rows.all()}


_EVENT_IDS = text("""
SELECT counterpart_external_id FROM crm.messages WHERE raw_event_id = :id AND processed_at IS NULL
UNION SELECT external_id FROM crm.messages WHERE raw_event_id = :id AND processed_at IS NULL
UNION SELECT counterpart_external_id FROM crm.message_status_events WHERE raw_event_id = :id
UNION SELECT external_message_id FROM crm.message_status_events WHERE raw_event_id = :id
UNION SELECT author_external_id FROM crm.social_comments WHERE raw_event_id = :id AND processed_at IS NULL""")
# On the hot path: while nobody was ever forgotten, one cheap look every few seconds instead of a query per event.
_NONE_CHECKED_AT = [0.0]
_NONE_TTL_S = 5.0


async def _nobody_forgotten(session: AsyncSession) -> bool:
    if time.monotonic() - _NONE_CHECKED_AT[0] < _NONE_TTL_S:
        return True
    if (await session.execute(text("SELECT 1 FROM crm.erasure_suppressions LIMIT 1"))).first() is None:
        _NONE_CHECKED_AT[0] = time.monotonic()
        return True
    return False


async def blank_erased(session: AsyncSession, raw_event_id: int) -> bool:
    """Blanks this event's rows about a forgotten person dated before their erasure; True if any was."""
    if await _nobody_forgotten(session):
        return False
    ids = [row[0] for row in await session.execute(_EVENT_IDS, {"id": raw_event_id}) if row[0]]
    gone = await suppressed(session, ids)
    if not gone:
        return False
    messages = (await session.scalars(select(Message).where(Message.raw_event_id == raw_event_id,
                                                            Message.processed_at.is_(None)))).all()
    statuses = (await session.scalars(select(MessageStatusEvent).where(
        MessageStatusEvent.raw_event_id == raw_event_id))).all()
    comments = (await session.scalars(select(SocialComment).where(SocialComment.raw_event_id == raw_event_id,
                                                                  SocialComment.processed_at.is_(None)))).all()
    blanked = False
    for message in messages:
        erased_at = gone.get(message.external_id or "") or gone.get(message.counterpart_external_id)
        if erased_at is not None and (message.sent_at is None or message.sent_at <= erased_at
                                      or message.external_id in gone):
            await session.delete(message)  # a retried or late copy of what was erased: not stored again
            blanked = True
    for status in statuses:
        if status.counterpart_external_id in gone or status.external_message_id in gone:
            status.counterpart_external_id, status.details, status.errors = None, {}, None
            blanked = True
    for comment in comments:
        erased_at = gone.get(comment.author_external_id or "")
        if erased_at is not None and (comment.created_time is None or comment.created_time <= erased_at):
            comment.text, comment.author_external_id, comment.author_name, comment.payload = None, None, None, {}
            comment.processed_at = datetime.now(erased_at.tzinfo)
            blanked = True
    return blanked


async def scrub_late_statuses(session: AsyncSession, window_minutes: int = 15) -> int:
    """Delivery statuses are stored at ingest (no job): a late read receipt for a forgotten person's message is
    found here instead. Only statuses whose message is unknown are looked at (an erased message's id was
    replaced), so the set stays small; matching ones lose the recipient and their raw body."""
    rows = (await session.execute(text("""
        SELECT s.id, s.counterpart_external_id, s.external_message_id, s.raw_event_id
        FROM crm.message_status_events s
        WHERE s.created_at > now() - make_interval(mins => :window) AND s.counterpart_external_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM crm.messages m WHERE m.channel = s.channel
                          AND m.external_id = s.external_message_id)"""), {"window": window_minutes})).all()
    scrubbed = await _scrub_job_locks(session)
    if not rows:
        return scrubbed
    gone = await suppressed(session, [r[1] for r in rows] + [r[2] or "" for r in rows])
    hits = [r for r in rows if r[1] in gone or (r[2] or "") in gone]
    if hits:
        await session.execute(text(
            "UPDATE crm.message_status_events SET counterpart_external_id = NULL, details = '{}', errors = NULL "
            "WHERE id = ANY(:ids)"), {"ids": [r[0] for r in hits]})
        await session.execute(text(
            "UPDATE crm.raw_webhook_events SET body = NULL, headers = '{}', unparsed = '[]', purged_at = now() "
            "WHERE id = ANY(:ids) AND body IS NOT NULL"), {"ids": [r[3] for r in hits if r[3] is not None]})
    return scrubbed + len(hits)


async def _scrub_job_locks(session: AsyncSession, recent_jobs: int = 5000) -> int:
    """A late webhook's processing job is locked by the customer's id ("whatsapp:<wa_id>"): once finished, a job of
    a forgotten person goes."""
    jobs = (await session.execute(text("""
        SELECT id, lock FROM crm.procrastinate_jobs
        WHERE id > (SELECT coalesce(max(id), 0) FROM crm.procrastinate_jobs) - :recent
          AND lock IS NOT NULL AND lock NOT LIKE 'erased:%%'
          AND status NOT IN ('todo', 'doing')"""), {"recent": recent_jobs})).all()
    values = {job_id: lock.rsplit(":", 1)[-1] for job_id, lock in jobs}
    gone = await suppressed(session, list(values.values()))
    doomed = [job_id for job_id, value in values.items() if value in gone]
    if doomed:
        await session.execute(text("DELETE FROM crm.procrastinate_jobs WHERE id = ANY(:ids)"), {"ids": doomed})
    return len(doomed)
