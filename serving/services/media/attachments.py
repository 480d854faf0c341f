"""Which files of an inbound message are downloaded, and their download jobs.

The pipeline plans them in its own transaction (a `pending` row and a `download_media` job per file); the job
runs later on the `media` queue, so a message never waits for its media and a failed download never touches it.
Planning is idempotent: a reprocessed message plans nothing new (unique message id + position)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import MediaAttachment, Message
from crm.settings import Settings
from serving.services.jobs import defer_job

log = structlog.get_logger(__name__)

MEDIA_QUEUE = "media"
DOWNLOAD_TASK = "download_media"
SWEEP_BATCH = 500

# messages.media `type` (WhatsApp and Messenger / Instagram names) to the attachment's kind. Locations, link
# fallbacks and templates carry no file; an Instagram share or story mention carries the post's image or video.
KINDS = {
    "image": "image", "audio": "audio", "video": "video", "document": "document", "sticker": "sticker",
    "file": "document", "ig_reel": "video", "reel": "video", "animated_image_share": "image",
    "story_mention": "story_mention", "share": "share",
}


@dataclass(frozen=True)
class PlannedFile:
    position: int
    kind: str
    source_media_id: str | None
    source_url: str | None
    declared_mime: str | None
    declared_sha256: str | None
    filename: str | None


def downloadable(channel: str, media: list[dict[str, Any]] | None) -> list[PlannedFile]:
    """The files among a message's media (position = index in messages.media)."""
    files: list[PlannedFile] = []
    for position, item in enumerate(media or []):
        if not isinstance(item, dict) or (kind := KINDS.get(str(item.get("type")))) is None:
            continue
        if kind == "image" and item.get("sticker_id"):  # Messenger sends stickers as images with a sticker id
            kind = "sticker"
        media_id = item.get("media_id") if channel == "whatsapp" else None
        url = item.get("url") if isinstance(item.get("url"), str) and item["url"].startswith(("http://",
                                                                                             "https://")) else None
        if not media_id and not url:
            continue
        files.append(PlannedFile(position=position, kind=kind, source_media_id=str(media_id) if media_id else None,
                                 source_url=url, declared_mime=item.get("mime_type"),
                                 declared_sha256=item.get("sha256"),
                                 filename=item.get("filename") or item.get("title")))
    return files


async def plan_attachments(session: AsyncSession, message: Message, now: datetime) -> list[int]:
    """A pending attachment and its download job for each file of an inbound message not planned yet."""
    if message.direction != "inbound" or message.is_echo:
        return []
    files = downloadable(message.channel, message.media)
    if not files:
        return []
    rows = [{"message_id": message.id, "position": f.position, "channel": message.channel,
             "account_external_id": message.account_external_id or "", "kind": f.kind,
             "source_media_id": f.source_media_id, "source_url": f.source_url, "declared_mime": f.declared_mime,
             "declared_sha256": f.declared_sha256, "filename": f.filename, "status": "pending",
             "next_attempt_at": now} for f in files]
    created = (await session.scalars(
        insert(MediaAttachment).values(rows)
        .on_conflict_do_nothing(index_elements=["message_id", "position"])
        .returning(MediaAttachment.id))).all()
    for attachment_id in created:
        await defer_download(session, attachment_id)
    if created:
        log.info("media.planned", message_id=message.id, attachment_ids=list(created))
    return list(created)


async def defer_download(session: AsyncSession, attachment_id: int, at: datetime | None = None) -> None:
    """The download job of one attachment, in the caller's transaction; one at a time per attachment (its lock)."""
    await defer_job(session, queue=MEDIA_QUEUE, task=DOWNLOAD_TASK, lock=f"media:{attachment_id}",
                    arg="attachment_id", value=attachment_id, at=at)


DUE_WITHOUT_JOB_SQL = text("""
SELECT a.id FROM crm.media_attachments a
WHERE a.status = 'pending' AND coalesce(a.next_attempt_at, a.created_at) <= :now
  AND NOT EXISTS (SELECT 1 FROM crm.procrastinate_jobs j WHERE j.task_name = :task
                  AND j.status IN ('todo', 'doing') AND (j.args->>'attachment_id')::bigint = a.id)
ORDER BY a.next_attempt_at NULLS FIRST, a.id
LIMIT :limit
FOR UPDATE OF a SKIP LOCKED
""")


async def requeue_due(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Pending attachments that are due and have no job (a job that crashed, a worker killed mid-download) get a
    new one, or are given up once MEDIA_MAX_ATTEMPTS were spent: none stays pending for ever. The caller commits."""
    ids = list((await session.scalars(DUE_WITHOUT_JOB_SQL, {"now": now, "task": DOWNLOAD_TASK,
                                                             "limit": SWEEP_BATCH})).all())
    requeued = 0
    for attachment_id in ids:
        attachment = await session.get(MediaAttachment, attachment_id)
        assert attachment is not None
        if attachment.attempts >= settings.media_max_attempts:
            attachment.status = "failed"
            attachment.next_attempt_at = None
            attachment.last_error = attachment.last_error or "gave up: the download job kept failing"
            log.warning("media.failed", attachment_id=attachment_id, message_id=attachment.message_id,
                        attempts=attachment.attempts, error=attachment.last_error)
        else:
            await defer_download(session, attachment_id)
            requeued += 1
    if requeued:
        log.warning("media.downloads_requeued", count=requeued)
    return len(ids)

