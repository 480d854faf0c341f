"""Inbound media, end to end: webhooks through the API, the real worker downloading from the Graph sandbox, files
kept content-addressed in a folder (or an S3 bucket) and linked to their message, and served back to agents.

Fault drill: the media endpoint failing leaves the message processed and answered and the attachment pending with
its error; a later attempt fills it. Files that lie about their type or are too large are refused."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.engine import create_engine, session_factory
from crm.settings import get_settings
from serving.sandbox_social import sandbox_file
from serving.services.channels.graph import GraphClient
from serving.services.media import attachments as media_attachments
from serving.services.media.downloader import download_attachment
from serving.services.media.storage import content_key
from tests.helpers import T0, T0_MS, add_api_key, api_client, count, fetch_one, make_settings
from tests.integration.test_worker import deliver, drain

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]

PHONE_NUMBER_ID = "109876543210001"
PAGE_ID = "200300400500600"
HTML = b"<!DOCTYPE html><html><head><title>Iniciar sesion</title></head><body><form></form></body></html>"


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Settings the worker reads (it runs in this process), restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


@pytest.fixture
def media_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "media"
    with environment(MEDIA_STORAGE_URL=f"file://{folder}"):
        yield folder


@pytest.fixture
async def sessions(clean_db: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(clean_db)
    yield session_factory(engine)
    await engine.dispose()


def wa_media(wamid: str, media_id: str, kind: str = "image", mime: str = "image/jpeg", sha256: str | None = None,
             caption: str | None = None, wa_id: str = "50761234567", ts: int = T0) -> dict:
    body: dict = {"id": media_id, "mime_type": mime}
    if sha256:
        body["sha256"] = sha256
    if caption:
        body["caption"] = caption
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Ana Pérez"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": wamid, "timestamp": str(ts), "type": kind, kind: body}]}}]}]}


def messenger_attachment(mid: str, url: str, sender: str = "24000000000000001", kind: str = "image") -> dict:
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": T0_MS, "messaging": [
        {"sender": {"id": sender}, "recipient": {"id": PAGE_ID}, "timestamp": T0_MS,
         "message": {"mid": mid, "attachments": [{"type": kind, "payload": {"url": url}}]}}]}]}


async def configure(sandbox: str, name: str, **override: object) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.put(f"{sandbox}/_sandbox/media/{name}", json=override)
        response.raise_for_status()
        return response.json()


async def sandbox_gets(sandbox: str, path_part: str) -> list[dict]:
    async with httpx.AsyncClient() as client:
        recorded = (await client.get(f"{sandbox}/_sandbox/messages")).json()
    return [r for r in recorded if r["method"] == "GET" and r["path"].endswith(path_part)]


async def attachment_of(db: psycopg.AsyncConnection, external_id: str) -> dict:
    return await fetch_one(db, "SELECT a.*, m.processed_at AS message_processed_at, m.text AS message_text, "
                               "m.conversation_id FROM crm.media_attachments a "
                               "JOIN crm.messages m ON m.id = a.message_id WHERE m.external_id = %s", external_id)


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def test_whatsapp_and_messenger_media_are_stored_once_by_content_and_linked(
        clean_db: str, db: psycopg.AsyncConnection, graph_sandbox: str, media_folder: Path,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    photo, _ = sandbox_file("media.photo.1")
    receipt, _ = sandbox_file("m_receipt_1.jpg")
    # A second customer forwards the very same photo: another media id, the same bytes.
    await configure(graph_sandbox, "media.photo.fwd", content_base64=base64.b64encode(photo).decode())
    webhook_sha = base64.b64encode(hashlib.sha256(photo).digest()).decode()  # webhooks declare it in base64
    await deliver(clean_db,
                  wa_media("wamid.MEDIA1", "media.photo.1", sha256=webhook_sha, caption="precio de esta silla?"),
                  wa_media("wamid.MEDIA2", "media.photo.fwd", wa_id="50769990000"),
                  messenger_attachment("m_MEDIA3", f"{graph_sandbox}/_sandbox/media/m_receipt_1.jpg"))
    await drain(clean_db)

    first = await attachment_of(db, "wamid.MEDIA1")
    forwarded = await attachment_of(db, "wamid.MEDIA2")
    receipt_row = await attachment_of(db, "m_MEDIA3")
    for row, data in ((first, photo), (forwarded, photo), (receipt_row, receipt)):
        sha = hashlib.sha256(data).hexdigest()
        assert row["status"] == "stored", row["last_error"]
        assert (row["mime_type"], row["sha256"], row["size_bytes"]) == ("image/jpeg", sha, len(data))
        assert row["storage_key"] == content_key(sha) and row["position"] == 0 and row["kind"] == "image"
        assert (media_folder / row["storage_key"]).read_bytes() == data
        assert row["attempts"] == 1 and row["last_error"] is None and row["message_processed_at"] is not None
    assert (first["channel"], first["source_media_id"], first["account_external_id"]) == (
        "whatsapp", "media.photo.1", PHONE_NUMBER_ID)
    assert first["message_text"] == "precio de esta silla?", "the caption stays the message's text"
    assert receipt_row["channel"] == "messenger" and receipt_row["source_url"].endswith("m_receipt_1.jpg")
    assert files_in(media_folder) == sorted({media_folder / first["storage_key"],
                                             media_folder / receipt_row["storage_key"]}), \
        "the same bytes twice are kept once"
    version = get_settings().meta_graph_version
    lookups = await sandbox_gets(graph_sandbox, f"/{version}/media.photo.1")
    assert lookups and lookups[0]["query"] == {"phone_number_id": PHONE_NUMBER_ID}, "a fresh URL from the media id"
    assert await sandbox_gets(graph_sandbox, "/_sandbox/media/media.photo.1"), "downloaded from the URL Meta gave"

    # Agents fetch the file; without a key nobody does.
    async with api_client(make_settings(clean_db)) as client:
        headers = await add_api_key(db, scope="agent")
        response = await client.get(f"/api/v1/media/{first['id']}", headers=headers)
        assert response.status_code == 200 and response.content == photo
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert (await client.get(f"/api/v1/media/{first['id']}")).status_code == 401
        assert (await client.get("/api/v1/media/999999", headers=headers)).status_code == 404

    # Processing the message again plans nothing new.
    async with sessions() as session:
        from crm.db.models import Message

        message = await session.get(Message, first["message_id"])
        assert await media_attachments.plan_attachments(session, message, datetime.now(UTC)) == []
        await session.commit()
    assert await count(db, "media_attachments") == 3
    assert await count(db, "procrastinate_jobs", "task_name = 'download_media'") == 3


async def test_fault_drill_failing_media_endpoint_keeps_the_message_and_a_retry_fills_it(
        clean_db: str, db: psycopg.AsyncConnection, graph_sandbox: str, media_folder: Path,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await configure(graph_sandbox, "media.flaky.1", fail_lookups=1, fail_status=503)
    await deliver(clean_db, wa_media("wamid.FLAKY", "media.flaky.1", caption="hola, tienen esta mochila?"))
    await drain(clean_db)

    row = await attachment_of(db, "wamid.FLAKY")
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "503" in row["last_error"] and row["next_attempt_at"] > datetime.now(UTC)
    assert files_in(media_folder) == []
    # The message is intact, processed and answered as if nothing happened.
    assert row["message_processed_at"] is not None and row["conversation_id"] is not None
    assert row["message_text"] == "hola, tienen esta mochila?"
    assert await count(db, "raw_webhook_events", "processing_status = 'processed'") == 1
    assert await count(db, "outbound_messages", "conversation_id = %s", row["conversation_id"]) >= 1
    # Its next attempt is already queued for when the backoff ends.
    job = await fetch_one(db, "SELECT status, scheduled_at FROM crm.procrastinate_jobs "
                              "WHERE task_name = 'download_media' AND status = 'todo'")
    assert job["scheduled_at"] == row["next_attempt_at"]
    async with api_client(make_settings(clean_db)) as client:
        response = await client.get(f"/api/v1/media/{row['id']}", headers=await add_api_key(db))
    assert response.status_code == 404
    assert response.json()["detail"]["status"] == "pending" and "503" in response.json()["detail"]["last_error"]

    # The worker died and its job is lost; once the backoff is over the sweep gives the attachment a new one.
    await db.execute("DELETE FROM crm.procrastinate_jobs WHERE task_name = 'download_media' AND status = 'todo'")
    async with sessions() as session:
        assert await media_attachments.requeue_due(session, get_settings(), datetime.now(UTC)) == 0, "not yet due"
    await db.execute("UPDATE crm.media_attachments SET next_attempt_at = now() - interval '1 second'")
    async with sessions() as session:
        assert await media_attachments.requeue_due(session, get_settings(), datetime.now(UTC)) == 1
        await session.commit()
    await drain(clean_db)

    row = await attachment_of(db, "wamid.FLAKY")
    photo, _ = sandbox_file("media.flaky.1")
    assert (row["status"], row["attempts"], row["last_error"]) == ("stored", 2, None)
    assert (media_folder / row["storage_key"]).read_bytes() == photo
    assert row["message_text"] == "hola, tienen esta mochila?"


async def test_a_download_that_keeps_failing_is_given_up_and_the_message_stays(
        clean_db: str, db: psycopg.AsyncConnection, graph_sandbox: str, media_folder: Path,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await configure(graph_sandbox, "media.down.1", fail_lookups=99, fail_status=500)
    await deliver(clean_db, wa_media("wamid.DOWN", "media.down.1"))
    await drain(clean_db)
    row = await attachment_of(db, "wamid.DOWN")
    assert row["status"] == "pending" and row["attempts"] == 1

    settings = make_settings(clean_db, media_max_attempts=2, media_storage_url=f"file://{media_folder}")
    graph = GraphClient(graph_sandbox, "v21.0")
    try:
        early = await download_attachment(sessions, graph, settings, row["id"])
        assert early.status == "not_due", "an attempt waits for its backoff"
        later = datetime.now(UTC) + timedelta(hours=1)
        outcome = await download_attachment(sessions, graph, settings, row["id"], now=later)
    finally:
        await graph.aclose()
    assert outcome.status == "failed" and "500" in (outcome.error or "")
    row = await attachment_of(db, "wamid.DOWN")
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 2, None)
    assert row["message_processed_at"] is not None
    assert await count(db, "messages", "external_id = 'wamid.DOWN' AND message_type = 'image'") == 1


async def test_an_html_page_served_as_a_jpeg_is_rejected(
        clean_db: str, db: psycopg.AsyncConnection, graph_sandbox: str, media_folder: Path) -> None:
    await configure(graph_sandbox, "media.phish.1", content_base64=base64.b64encode(HTML).decode(),
                    mime_type="image/jpeg")
    await deliver(clean_db, wa_media("wamid.PHISH", "media.phish.1"))
    await drain(clean_db)
    row = await attachment_of(db, "wamid.PHISH")
    assert row["status"] == "rejected" and "text/html" in row["last_error"]
    assert row["storage_key"] is None and files_in(media_folder) == []
    assert row["message_processed_at"] is not None
    assert await count(db, "procrastinate_jobs", "task_name = 'download_media' AND status = 'todo'") == 0, \
        "a refused file is not tried again"


async def test_an_oversize_file_is_rejected_without_reading_it_all(
        clean_db: str, db: psycopg.AsyncConnection, graph_sandbox: str, media_folder: Path,
        sessions: async_sessionmaker[AsyncSession]) -> None:
    # WhatsApp declares the size: nothing is downloaded at all.
    await configure(graph_sandbox, "media.huge.1", size=300_000)
    with environment(MEDIA_MAX_BYTES="100000"):
        await deliver(clean_db, wa_media("wamid.HUGE", "media.huge.1", kind="video", mime="video/mp4"))
        await drain(clean_db)
    row = await attachment_of(db, "wamid.HUGE")
    assert row["status"] == "rejected" and "MEDIA_MAX_BYTES" in row["last_error"]
    assert await sandbox_gets(graph_sandbox, "/_sandbox/media/media.huge.1") == []

    # A CDN link with no declared size: the download stops as soon as it passes the cap.
    pulled: list[int] = []

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            jpeg, _ = sandbox_file("x")
            yield jpeg
            for _ in range(1000):  # 64 MB more on offer
                pulled.append(1)
                yield b"\x00" * 65536

    def cdn(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers, "no token goes to a CDN"
        return httpx.Response(200, headers={"content-type": "image/jpeg"}, stream=Endless())

    # A link to anywhere but Meta's CDNs is never fetched (no SSRF through a webhook).
    await deliver(clean_db, messenger_attachment("m_ELSEWHERE", "https://cdn.test/huge.jpg"))
    await drain(clean_db)
    elsewhere = await attachment_of(db, "m_ELSEWHERE")
    assert elsewhere["status"] == "rejected" and "MEDIA_ALLOWED_HOSTS" in elsewhere["last_error"]

    await deliver(clean_db, messenger_attachment("m_HUGE", "https://scontent.test.fbcdn.net/huge.jpg"))
    await drain(clean_db)  # that host cannot be reached from here: a transient failure
    row = await attachment_of(db, "m_HUGE")
    assert row["status"] == "pending" and row["attempts"] == 1
    settings = make_settings(clean_db, media_max_bytes=100_000)
    graph = GraphClient(graph_sandbox, "v21.0")
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as http:
            outcome = await download_attachment(sessions, graph, settings, row["id"],
                                                now=datetime.now(UTC) + timedelta(hours=1), http=http)
    finally:
        await graph.aclose()
    assert outcome.status == "rejected" and "MEDIA_MAX_BYTES" in (outcome.error or "")
    assert len(pulled) <= 3, f"read {len(pulled)} chunks of 1000"
    assert files_in(media_folder) == []


async def test_media_can_be_kept_in_an_s3_bucket(
        clean_db: str, db: psycopg.AsyncConnection, graph_sandbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    bucket = f"crm-media-{os.getpid()}"
    with mock_aws(), environment(MEDIA_STORAGE_URL=f"s3://{bucket}/inbound"):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=bucket)
        await deliver(clean_db, wa_media("wamid.S3", "media.s3.document.pdf", kind="document",
                                         mime="application/pdf"))
        await drain(clean_db)
        row = await attachment_of(db, "wamid.S3")
        pdf, _ = sandbox_file("media.s3.document.pdf")
        assert row["status"] == "stored", row["last_error"]
        assert (row["kind"], row["mime_type"], row["storage_key"]) == (
            "document", "application/pdf", content_key(hashlib.sha256(pdf).hexdigest()))
        stored = s3.get_object(Bucket=bucket, Key=f"inbound/{row['storage_key']}")
        assert stored["Body"].read() == pdf and stored["ContentType"] == "application/pdf"
        async with api_client(make_settings(clean_db)) as client:
            response = await client.get(f"/api/v1/media/{row['id']}", headers=await add_api_key(db))
        assert response.status_code == 200 and response.content == pdf
        assert response.headers["content-disposition"].startswith("attachment")


async def test_a_hash_mismatch_is_retried_and_an_expired_cdn_link_fails_at_once(
        clean_db: str, db: psycopg.AsyncConnection, graph_sandbox: str, media_folder: Path) -> None:
    await configure(graph_sandbox, "m_gone_1.jpg", fail_downloads=1, fail_status=404)
    await deliver(clean_db,
                  wa_media("wamid.BADHASH", "media.badhash.1", sha256=hashlib.sha256(b"other bytes").hexdigest()),
                  messenger_attachment("m_GONE", f"{graph_sandbox}/_sandbox/media/m_gone_1.jpg"))
    await drain(clean_db)
    mismatch = await attachment_of(db, "wamid.BADHASH")
    assert mismatch["status"] == "pending" and "SHA-256 mismatch" in mismatch["last_error"]
    gone = await attachment_of(db, "m_GONE")
    assert gone["status"] == "failed" and "404" in gone["last_error"] and gone["attempts"] == 1
    assert files_in(media_folder) == []
