"""Inbound media for agents: the file of a message's attachment, as kept after download (any key that may read)."""

from __future__ import annotations

import re
from urllib.parse import quote

import structlog
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel

from crm.db.models import MediaAttachment
from serving.deps import ReadKey, SessionDep, SettingsDep
from serving.services.media.downloader import store_for

router = APIRouter(prefix="/media", tags=["media"])
log = structlog.get_logger(__name__)

INLINE_FAMILIES = ("image/", "audio/", "video/")


class MediaUnavailable(BaseModel):
    """Why there is no file (yet): `pending` with the last error is still being retried."""

    attachment_id: int
    status: str
    attempts: int = 0
    last_error: str | None = None


class MediaUnavailableResponse(BaseModel):
    detail: MediaUnavailable


def _filename(attachment: MediaAttachment) -> str:
    name = attachment.filename or f"{attachment.kind}-{attachment.id}"
    return re.sub(r"[\x00-\x1f\"\\/]", "_", name)[:200]


@router.get("/{attachment_id}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The file, with the type detected from its bytes."},
                       404: {"model": MediaUnavailableResponse,
                             "description": "Not stored: unknown, pending, failed, rejected or gone."}})
async def get_media(attachment_id: int, session: SessionDep, settings: SettingsDep, _: ReadKey) -> Response:
    attachment = await session.get(MediaAttachment, attachment_id)
    if attachment is None:
        raise HTTPException(404, MediaUnavailable(attachment_id=attachment_id, status="missing").model_dump())
    if attachment.status != "stored" or not attachment.storage_key:
        raise HTTPException(404, MediaUnavailable(attachment_id=attachment_id, status=attachment.status,
                                                  attempts=attachment.attempts,
                                                  last_error=attachment.last_error).model_dump())
    store = store_for(settings)
    try:
        data = await store.get(attachment.storage_key)
    except FileNotFoundError as exc:
        log.error("media.file_missing", attachment_id=attachment_id, storage_key=attachment.storage_key)
        raise HTTPException(404, MediaUnavailable(attachment_id=attachment_id, status=attachment.status,
                                                  last_error=f"the file is missing from {store.description}")
                            .model_dump()) from exc
    except Exception as exc:  # an S3 store that is down: try again later
        log.error("media.store_unavailable", attachment_id=attachment_id, error=f"{type(exc).__name__}: {exc}")
        raise HTTPException(503, "the media store cannot be read right now") from exc
    mime = attachment.mime_type or "application/octet-stream"
    disposition = "inline" if mime.startswith(INLINE_FAMILIES) else "attachment"
    name = _filename(attachment)
    return Response(data, media_type=mime, headers={
        # The bytes came from a stranger: never sniffed into something else, never run as a page.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": f"{disposition}; filename=\"{name.encode('ascii', 'replace').decode()}\"; "
                               f"filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, max-age=3600",
        "ETag": f"\"{attachment.sha256}\"",
    })
