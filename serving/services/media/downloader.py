"""The `download_media` job: fetch one attachment from Meta soon after it arrived (its URLs expire), check it and
keep it under its content address.

Where the bytes come from:
- WhatsApp: `GET /{version}/{media-id}` with the number's token gives a URL (valid about five minutes), the
  declared type, size and SHA-256; the URL is fetched with the same token. Every attempt asks for a fresh URL.
- Messenger / Instagram: the attachment's CDN URL itself, without a token (it expires after a while).

What happens after:
- kept: `stored`, with the detected type, SHA-256, size and the storage key;
- refused for good (larger than MEDIA_MAX_BYTES, a type not allowed, not what it claimed to be): `rejected`;
- a transient failure (network, 5xx, 429, a hash that does not match): stays `pending` with its error and the
  time of the next attempt, and a new job is deferred to then; after MEDIA_MAX_ATTEMPTS it is `failed`;
- a permanent failure (an expired CDN link, a media id Meta does not know): `failed` at once.
The message itself is never touched, and a crash mid-way counts as an attempt (the sweep picks the row up again).
"""

from __future__ import annotations

import re

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models import MediaAttachment
from crm.settings import Settings
from serving.services.channels.accounts import account_token
from serving.services.channels.graph import GraphClient, GraphError
from serving.services.media.attachments import defer_download
from serving.services.media.checks import (
    MediaRejected,
    check_declared_size,
    check_source_url,
    check_type,
    content_sha256,
    normalize_sha256,
    read_capped,
    retry_delay,
)
from serving.services.media.storage import MediaStore, content_key, store_from_settings

log = structlog.get_logger(__name__)

DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
CHUNK_BYTES = 64 * 1024
USER_AGENT = "autonomous-crm-media/1.0"
# Graph answers worth another try: throttling, Meta's own trouble, and a token an operator can still fix.
AUTH_CODES = {190}


class TransientMediaError(Exception):
    """Worth another attempt later."""


class PermanentMediaError(Exception):
    """No later attempt can succeed."""


class WhatsAppMediaInfo(BaseModel):
    """`GET /{media-id}` on the Cloud API."""

    model_config = ConfigDict(extra="ignore")
    url: str
    mime_type: str | None = None
    sha256: str | None = None
    file_size: int | None = None
    id: str | None = None


@dataclass(frozen=True)
class DownloadOutcome:
    status: str  # stored | rejected | pending | failed, or what the row already was (missing, not_due, erased...)
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class _Source:
    """What one attempt needs, read (with the token) before the transaction is let go."""

    channel: str
    account: str
    kind: str
    media_id: str | None
    url: str | None
    declared_mime: str | None
    declared_sha256: str | None
    token: str | None


@dataclass(frozen=True)
class _Fetched:
    data: bytes
    declared_mime: str | None = None
    declared_sha256: str | None = None


_stores: dict[tuple[str, str | None], MediaStore] = {}


def store_for(settings: Settings) -> MediaStore:
    """One store per configuration (an S3 client is costly to make)."""
    key = (settings.media_storage_url, settings.media_s3_endpoint_url)
    if key not in _stores:
        _stores[key] = store_from_settings(settings)
    return _stores[key]


@asynccontextmanager
async def _http(client: httpx.AsyncClient | None, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
        return

    async def only_meta(request: httpx.Request) -> None:  # every hop, redirects included
        check_source_url(str(request.url), settings.media_allowed_hosts, settings.meta_graph_base_url)

    async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True, headers={"User-Agent": USER_AGENT},
                                 event_hooks={"request": [only_meta]}) as own:
        yield own


async def download_attachment(sessions: async_sessionmaker[AsyncSession], graph: GraphClient, settings: Settings,
                              attachment_id: int, now: datetime | None = None, http: httpx.AsyncClient | None = None,
                              store: MediaStore | None = None) -> DownloadOutcome:
    """One attempt at one pending attachment that is due; returns how it ended."""
    now = now or datetime.now(UTC)
    async with sessions() as session:
        attachment = await session.get(MediaAttachment, attachment_id, with_for_update=True)
        if attachment is None:
            return DownloadOutcome("missing")
        if attachment.status != "pending":
            return DownloadOutcome(attachment.status, attachment.last_error)
        if attachment.next_attempt_at is not None and attachment.next_attempt_at > now:
            return DownloadOutcome("not_due", retry_at=attachment.next_attempt_at)
        if attachment.attempts >= settings.media_max_attempts:  # the last attempt crashed
            _fail(attachment, attachment.last_error or "gave up: the download job kept failing")
            await session.commit()
            return DownloadOutcome("failed", attachment.last_error)
        # Counted before the download: a crash is an attempt too, and the row waits until then (the sweep's lease).
        attachment.attempts += 1
        attachment.next_attempt_at = now + retry_delay(attachment.attempts)
        token = (await account_token(session, "whatsapp", attachment.account_external_id, settings)
                 if attachment.channel == "whatsapp" else None)
        source = _Source(attachment.channel, attachment.account_external_id, attachment.kind,
                         attachment.source_media_id, attachment.source_url, attachment.declared_mime,
                         attachment.declared_sha256, token)
        await session.commit()
    try:
        async with _http(http, settings) as client:
            fetched = await _fetch(client, graph, source, settings)
        sha256 = content_sha256(fetched.data)
        for declared in (source.declared_sha256, fetched.declared_sha256):
            expected = normalize_sha256(declared)
            if expected is not None and expected != sha256:
                raise TransientMediaError(f"SHA-256 mismatch: Meta declared {expected}, the bytes are {sha256}")
        mime = check_type(fetched.data, source.kind, source.declared_mime or fetched.declared_mime,
                          settings.media_allowed_types)
        key = content_key(sha256)
        store = store or store_for(settings)
        try:
            await store.put(key, fetched.data, mime)
        except Exception as exc:  # a store that is down or full: the file is still at Meta for a while
            raise TransientMediaError(f"could not store in {store.description}: {type(exc).__name__}: {exc}") \
                from exc
    except MediaRejected as exc:
        return await _settle_rejected(sessions, attachment_id, str(exc))
    except TransientMediaError as exc:
        return await _settle_failure(sessions, attachment_id, str(exc), now, settings, permanent=False)
    except PermanentMediaError as exc:
        return await _settle_failure(sessions, attachment_id, str(exc), now, settings, permanent=True)
    return await _settle_stored(sessions, store, attachment_id, key, sha256, mime, len(fetched.data), now)


async def _fetch(client: httpx.AsyncClient, graph: GraphClient, source: _Source, settings: Settings) -> _Fetched:
    max_bytes = settings.media_max_bytes

    def allowed(url: str) -> str:
        check_source_url(url, settings.media_allowed_hosts, settings.meta_graph_base_url)
        return url

    if source.channel == "whatsapp" and source.media_id:
        info = await resolve_whatsapp_media(graph, source.media_id, source.account, source.token)
        check_declared_size(info.file_size, max_bytes)
        allowed(info.url)
        # The lookaside URL wants the same token; an expired one is asked for again on the next attempt.
        data = await fetch_capped(client, info.url, source.token, max_bytes, refreshable=True)
        return _Fetched(data, info.mime_type, info.sha256)
    if source.url:
        token = source.token if source.channel == "whatsapp" else None  # never hand a token to a CDN
        return _Fetched(await fetch_capped(client, allowed(source.url), token, max_bytes, refreshable=False))
    raise PermanentMediaError("no media id or URL to download from")


async def resolve_whatsapp_media(graph: GraphClient, media_id: str, phone_number_id: str,
                                 token: str | None) -> WhatsAppMediaInfo:
    """A fresh download URL for a WhatsApp media id (with its declared type, size and hash)."""
    if not re.fullmatch(r"[0-9A-Za-z_.-]{1,128}", media_id):  # it goes into a Graph path with the number's token
        raise PermanentMediaError("media id is not a Graph object id")
    params = {"phone_number_id": phone_number_id} if phone_number_id else None
    try:
        data = await graph._get(graph._base + f"/{media_id}", token, params)
    except GraphError as exc:
        if exc.retryable or exc.status in (0, 401) or exc.code in AUTH_CODES:
            raise TransientMediaError(f"media id {media_id}: {exc}") from exc
        raise PermanentMediaError(f"media id {media_id}: {exc}") from exc
    try:
        return WhatsAppMediaInfo.model_validate(data)
    except ValidationError as exc:
        raise TransientMediaError(f"media id {media_id}: no download URL in the answer: {str(data)[:300]}") \
            from exc


async def fetch_capped(client: httpx.AsyncClient, url: str, token: str | None, max_bytes: int,
                       refreshable: bool) -> bytes:
    """The file at `url`, streamed; past `max_bytes` (declared or counted) it stops reading and refuses it.
    `refreshable`: a 4xx only means the link expired (a new one is asked for next time), so it is transient."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status >= 400:
                transient = refreshable or status in (408, 425, 429) or status >= 500
                error = TransientMediaError if transient else PermanentMediaError
                raise error(f"download answered HTTP {status}")
            length = response.headers.get("content-length")
            if length and length.isdigit() and not response.headers.get("content-encoding"):
                check_declared_size(int(length), max_bytes)
            return (await read_capped(response.aiter_bytes(CHUNK_BYTES), max_bytes)).data
    except httpx.TransportError as exc:
        raise TransientMediaError(f"download failed: {type(exc).__name__}: {exc}") from exc


def _fail(attachment: MediaAttachment, error: str) -> None:
    attachment.status, attachment.last_error, attachment.next_attempt_at = "failed", error[:1000], None


async def _pending(session: AsyncSession, attachment_id: int) -> MediaAttachment | None:
    """The row if it still waits for this download (an erasure meanwhile wins)."""
    attachment = await session.get(MediaAttachment, attachment_id, with_for_update=True)
    return attachment if attachment is not None and attachment.status == "pending" else None


async def _settle_stored(sessions: async_sessionmaker[AsyncSession], store: MediaStore, attachment_id: int,
                         key: str, sha256: str, mime: str, size: int, now: datetime) -> DownloadOutcome:
    async with sessions() as session:
        attachment = await _pending(session, attachment_id)
        if attachment is None:  # erased or purged while downloading: keep no copy nobody refers to
            used = (await session.execute(text(
                "SELECT 1 FROM crm.media_attachments WHERE storage_key = :key AND status = 'stored' LIMIT 1"),
                {"key": key})).first()
            if used is None:
                await store.delete(key)
            row = await session.get(MediaAttachment, attachment_id)
            return DownloadOutcome(row.status if row else "missing")
        attachment.status, attachment.mime_type, attachment.sha256 = "stored", mime, sha256
        attachment.size_bytes, attachment.storage_key, attachment.stored_at = size, key, now
        attachment.last_error, attachment.next_attempt_at = None, None
        message_id, kind = attachment.message_id, attachment.kind
        await session.commit()
    log.info("media.stored", attachment_id=attachment_id, message_id=message_id, kind=kind, mime_type=mime,
             size_bytes=size, storage_key=key)
    return DownloadOutcome("stored")


async def _settle_rejected(sessions: async_sessionmaker[AsyncSession], attachment_id: int,
                           reason: str) -> DownloadOutcome:
    async with sessions() as session:
        attachment = await _pending(session, attachment_id)
        if attachment is None:
            return DownloadOutcome("missing")
        attachment.status, attachment.last_error, attachment.next_attempt_at = "rejected", reason[:1000], None
        message_id = attachment.message_id
        await session.commit()
    log.warning("media.rejected", attachment_id=attachment_id, message_id=message_id, reason=reason)
    return DownloadOutcome("rejected", reason)


async def _settle_failure(sessions: async_sessionmaker[AsyncSession], attachment_id: int, error: str,
                          now: datetime, settings: Settings, permanent: bool) -> DownloadOutcome:
    async with sessions() as session:
        attachment = await _pending(session, attachment_id)
        if attachment is None:
            return DownloadOutcome("missing")
        message_id, attempts = attachment.message_id, attachment.attempts
        if permanent or attempts >= settings.media_max_attempts:
            _fail(attachment, error)
            await session.commit()
            log.warning("media.failed", attachment_id=attachment_id, message_id=message_id, attempts=attempts,
                        error=error)
            return DownloadOutcome("failed", error)
        retry_at = now + retry_delay(attempts)
        attachment.last_error, attachment.next_attempt_at = error[:1000], retry_at
        await defer_download(session, attachment_id, retry_at)
        await session.commit()
    log.warning("media.retry", attachment_id=attachment_id, message_id=message_id, attempts=attempts,
                retry_at=retry_at.isoformat(), error=error)
    return DownloadOutcome("pending", error, retry_at)
