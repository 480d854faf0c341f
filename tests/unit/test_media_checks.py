"""What a downloaded file must pass before it is kept: the size cap, the type read from the bytes and the
allow-list, and where it is kept (its content address); and which parts of a message are files at all."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm.settings import Settings
from serving.sandbox_social import sandbox_file
from serving.services.media.attachments import downloadable
from serving.services.media.checks import (
    MediaRejected,
    TooLarge,
    check_declared_size,
    check_type,
    detect_mime,
    is_allowed,
    normalize_sha256,
    read_capped,
)
from serving.services.media.storage import LocalMediaStore, content_key, store_from_settings

ALLOWED = Settings().media_allowed_types
JPEG, _ = sandbox_file("photo")
PDF, _ = sandbox_file("contract.pdf")
OGG, _ = sandbox_file("voice-note")
MP4, _ = sandbox_file("video-clip")
WEBP, _ = sandbox_file("sticker")
HTML = b"<!DOCTYPE html><html><head><title>Log in</title></head><body><script>steal()</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120


class Chunks:
    """A download arriving in pieces, counting how many were pulled."""

    def __init__(self, size: int, count: int):
        self.size, self.count, self.pulled = size, count, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.pulled += 1
            yield b"\x00" * self.size


@pytest.mark.parametrize(("data", "mime"), [
    (JPEG, "image/jpeg"), (PDF, "application/pdf"), (OGG, "audio/ogg"), (MP4, "video/mp4"), (WEBP, "image/webp"),
    (HTML, "text/html"), (b"  <html><body>hi</body></html>", "text/html"), (SVG, "image/svg+xml"),
    (ELF, "application/x-executable"), (EXE, "application/x-msdownload"),
    ("precio;cantidad\n10;2\nñandú\n".encode(), "text/plain"), (b"\x00\x01\x02garbage", "application/octet-stream"),
])
def test_the_type_comes_from_the_bytes(data: bytes, mime: str) -> None:
    assert detect_mime(data) == mime


def test_allow_list_takes_prefixes_and_never_lets_markup_through() -> None:
    assert is_allowed("image/jpeg", ALLOWED) and is_allowed("application/pdf", ALLOWED)
    assert is_allowed("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ALLOWED)
    assert not is_allowed("application/x-msdownload", ALLOWED)
    assert not is_allowed("application/zip", ALLOWED)
    assert not is_allowed("video/mp4", ["image/"])
    # Even an operator allowing everything textual or every image never gets a page or an SVG with script.
    assert not is_allowed("text/html", ["text/", "image/"])
    assert not is_allowed("image/svg+xml", ["text/", "image/"])


@pytest.mark.parametrize(("data", "kind", "declared", "mime"), [
    (JPEG, "image", "image/jpeg", "image/jpeg"),
    (WEBP, "sticker", "image/webp", "image/webp"),
    (OGG, "audio", "audio/ogg; codecs=opus", "audio/ogg"),
    (MP4, "audio", "audio/mp4", "video/mp4"),  # an .m4a voice note is an MP4 file
    (MP4, "video", None, "video/mp4"),
    (PDF, "document", "application/pdf", "application/pdf"),
    (JPEG, "document", None, "image/jpeg"),  # a photo sent as a document
    (JPEG, "story_mention", None, "image/jpeg"),
])
def test_files_that_are_what_they_claim_are_kept(data: bytes, kind: str, declared: str | None, mime: str) -> None:
    assert check_type(data, kind, declared, ALLOWED) == mime


@pytest.mark.parametrize(("data", "kind", "declared", "reason"), [
    (HTML, "image", "image/jpeg", "text/html is not allowed"),
    (EXE, "image", "image/jpeg", "application/x-msdownload is not allowed"),
    (ELF, "document", "application/pdf", "application/x-executable is not allowed"),
    (SVG, "image", "image/svg+xml", "image/svg+xml is not allowed"),
    (PDF, "image", "image/jpeg", "the image is really application/pdf"),
    (JPEG, "audio", "audio/ogg", "the audio is really image/jpeg"),
    (PDF, "document", "image/jpeg", "declared image/jpeg but the bytes are application/pdf"),
])
def test_files_that_lie_about_what_they_are_are_rejected(data: bytes, kind: str, declared: str,
                                                         reason: str) -> None:
    with pytest.raises(MediaRejected, match=re.escape(reason)):
        check_type(data, kind, declared, ALLOWED)


async def test_the_size_cap_stops_reading_as_soon_as_it_is_passed() -> None:
    fits = Chunks(1000, 10)
    assert len((await read_capped(fits, 10_000)).data) == 10_000
    huge = Chunks(64 * 1024, 1000)  # 64 MB on offer
    with pytest.raises(TooLarge):
        await read_capped(huge, 100_000)
    assert huge.pulled == 2, "the rest of the download is never read"
    with pytest.raises(TooLarge):
        check_declared_size(100_001, 100_000)
    check_declared_size(None, 100_000)
    check_declared_size(100_000, 100_000)


def test_meta_hashes_are_compared_whether_hex_or_base64() -> None:
    digest = hashlib.sha256(JPEG)
    assert normalize_sha256(digest.hexdigest().upper()) == digest.hexdigest()
    assert normalize_sha256(base64.b64encode(digest.digest()).decode()) == digest.hexdigest()
    assert normalize_sha256(base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")) == digest.hexdigest()
    assert normalize_sha256("demo") is None and normalize_sha256(None) is None and normalize_sha256("") is None


async def test_the_same_bytes_have_one_key_and_are_stored_once(tmp_path: Path) -> None:
    digest = hashlib.sha256(JPEG).hexdigest()
    key = content_key(digest)
    assert key == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    store = store_from_settings(Settings(media_storage_url=f"file://{tmp_path}"))
    assert isinstance(store, LocalMediaStore) and store.root == tmp_path
    await store.put(key, JPEG, "image/jpeg")
    await store.put(key, JPEG, "image/jpeg")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / key]
    assert await store.get(key) == JPEG and await store.exists(key)
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_relative_and_s3_storage_urls() -> None:
    from crm.settings import PROJECT_ROOT

    local = store_from_settings(Settings(media_storage_url="file://.local/media"))
    assert isinstance(local, LocalMediaStore) and local.root == PROJECT_ROOT / ".local" / "media"
    with pytest.raises(ValueError):
        store_from_settings(Settings(media_storage_url="ftp://host/x"))


def test_which_parts_of_a_message_are_files() -> None:
    whatsapp = [{"type": "image", "media_id": "111", "mime_type": "image/jpeg", "sha256": "abc"},
                {"type": "audio", "media_id": "222", "voice": True},
                {"type": "document", "media_id": "333", "filename": "cotizacion.pdf"}]
    files = downloadable("whatsapp", whatsapp)
    assert [(f.position, f.kind, f.source_media_id, f.filename) for f in files] == [
        (0, "image", "111", None), (1, "audio", "222", None), (2, "document", "333", "cotizacion.pdf")]
    messenger = [{"type": "location", "payload": {"coordinates": {"lat": 1, "long": 2}}},
                 {"type": "fallback", "url": "https://example.com/page", "title": "a link"},
                 {"type": "image", "url": "https://cdn.fbsbx.com/v/sticker.png", "sticker_id": "369239263222822"},
                 {"type": "file", "url": "https://cdn.fbsbx.com/v/doc.pdf", "title": "doc.pdf"},
                 {"type": "ig_reel", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"},
                 {"type": "image", "url": "javascript:alert(1)"}]
    files = downloadable("messenger", messenger)
    assert [(f.position, f.kind, f.source_media_id) for f in files] == [
        (2, "sticker", None), (3, "document", None), (4, "video", None)]


def test_media_is_fetched_only_from_metas_hosts_or_the_graph_base() -> None:
    from serving.services.media.checks import check_source_url

    hosts = ["fbcdn.net", "fbsbx.com", "cdninstagram.com"]
    check_source_url("https://scontent.xx.fbcdn.net/v/t1/abc.jpg?oh=1", hosts, "https://graph.facebook.com")
    check_source_url("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1", hosts,
                     "https://graph.facebook.com")
    check_source_url("http://127.0.0.1:8765/_sandbox/media/x.jpg", hosts, "http://127.0.0.1:8765")
    for url in ("http://scontent.xx.fbcdn.net/a.jpg", "https://169.254.169.254/latest/meta-data/",
                "https://evilfbcdn.net/a.jpg", "https://fbcdn.net.evil.com/a.jpg", "file:///etc/passwd",
                "http://127.0.0.1:5432/", "http://127.0.0.1:5678/healthz"):
        with pytest.raises(MediaRejected):
            check_source_url(url, hosts, "https://graph.facebook.com")
        with pytest.raises(MediaRejected):
            check_source_url(url, hosts, "http://127.0.0.1:8765")
