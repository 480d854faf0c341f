"""Retention (issue 9): raw webhook bodies and downloaded media are kept RAW_EVENT_RETENTION_DAYS and
MEDIA_RETENTION_DAYS, then purged by the worker (hourly). A raw event keeps its row (when it came, its counts,
its state) without the body; an event not yet processed or dead-lettered keeps its body, since it is the only
copy of what Meta sent until it is settled. Media keeps its attachment row (kind, size, hash) without the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import MediaAttachment, RawWebhookEvent
from crm.settings import Settings
from serving.services.media.storage import MediaStore

log = structlog.get_logger(__name__)
BATCH = 1000


@dataclass
class PurgeReport:
    raw_bodies: int = 0
    media_files: int = 0
    files: list[str] = field(default_factory=list)  # storage keys to delete once the transaction committed


async def purge_expired(session: AsyncSession, settings: Settings, store: MediaStore, now: datetime) -> PurgeReport:
    """One pass (at most BATCH of each); the caller commits, then deletes `report.files` with
    `delete_unused_files`. Run it again until it reports nothing."""
    report = PurgeReport()
    raw_cutoff = now - timedelta(days=settings.raw_event_retention_days)
    purged = await session.execute(
        update(RawWebhookEvent)
        .where(RawWebhookEvent.id.in_(
            select(RawWebhookEvent.id).where(
                RawWebhookEvent.received_at < raw_cutoff, RawWebhookEvent.purged_at.is_(None),
                RawWebhookEvent.processing_status.in_(("processed", "no_action")))
            .limit(BATCH).scalar_subquery()))
        .values(body=None, headers={}, unparsed=[], purged_at=now))
    report.raw_bodies = purged.rowcount or 0
    media_cutoff = now - timedelta(days=settings.media_retention_days)
    expired = (await session.scalars(select(MediaAttachment).where(
        MediaAttachment.status == "stored", MediaAttachment.stored_at < media_cutoff)
        .order_by(MediaAttachment.id).limit(BATCH).with_for_update(skip_locked=True))).all()
    for attachment in expired:
        release_file(attachment, "purged", now, report.files)
        report.media_files += 1
    if report.raw_bodies or report.media_files:
        log.info("retention.purged", raw_bodies=report.raw_bodies, media_files=report.media_files)
    return report


def release_file(attachment: MediaAttachment, status: str, now: datetime, files: list[str]) -> None:
    """Marks the attachment `purged` / `erased` and notes its file for deletion after the commit (deleting before
    could leave rows that roll back to `stored` with their file gone)."""
    if attachment.storage_key:
        files.append(attachment.storage_key)
    attachment.status, attachment.purged_at, attachment.storage_key = status, now, None


async def delete_unused_files(session: AsyncSession, store: MediaStore, keys: list[str]) -> int:
    """After the commit: deletes each file no stored attachment uses any more (content-addressed keys are shared,
    and a download may have stored the same bytes meanwhile)."""
    deleted = 0
    for key in sorted(set(keys)):
        still_used = (await session.execute(text(
            "SELECT 1 FROM crm.media_attachments WHERE storage_key = :key AND status = 'stored' LIMIT 1"),
            {"key": key})).first()
        if still_used is None:
            await store.delete(key)
            deleted += 1
    return deleted
