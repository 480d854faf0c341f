"""The Graph sandbox's Facebook page and Instagram account: page posts and photos, Instagram's container +
`media_publish`, the publishing quota, public and private replies to comments, and hiding comments, answered in
Meta's shapes and recorded with everything else (`GET /_sandbox/messages`). Like Meta it refuses what must not
happen twice: a second `media_publish` of one container, a second private reply to one comment."""

from __future__ import annotations

import base64
import hashlib
import itertools
import struct
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

INSTAGRAM_QUOTA = 100  # posts per rolling 24 hours through the API


def graph_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "OAuthException", "code": code,
                                   "fbtrace_id": "SANDBOX"}}, status_code=status)


# Small but real files, so type detection downstream sees what Meta would serve: a 1x1 JPEG and WebP (sticker).
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBk"
    "eFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAABAAED"
    "ASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKB"
    "kaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZ"
    "mqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQF"
    "BgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5"
    "OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX"
    "2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDIooorkPqD/9k=")
_WEBP = base64.b64decode("UklGRjoAAABXRUJQVlA4IC4AAACQAQCdASoBAAEAAUAmJaACdLoAA5gA/vFNr+LaR0KZD/7xn/9xn/9xn/yIAAAA")
# A media id or CDN file name mentioning one of these words is served as that kind; anything else is a JPEG.
_KIND_HINTS = (("pdf", "document"), ("document", "document"), ("voice", "audio"), ("audio", "audio"),
               ("ogg", "audio"), ("video", "video"), ("mp4", "video"), ("sticker", "sticker"), ("webp", "sticker"),
               ("png", "png"))


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def _png(label: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00" + label) + chunk(b"IDAT", zlib.compress(b"\x00\xc8\x1e\x28"))
            + chunk(b"IEND", b""))


def _opus(label: bytes) -> bytes:
    """The first Ogg page of an Opus voice note (OpusHead), with a valid page checksum."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    page = (b"OggS" + struct.pack("<BBqIII", 0, 2, 0, zlib.crc32(label), 0, 0) + bytes([1, len(head)]) + head)
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def sandbox_file(name: str) -> tuple[bytes, str]:
    """The deterministic small file (and its type) the sandbox serves for a media id or CDN file name; different
    names give different bytes (the name is written in a comment, a text chunk or a free box)."""
    label = name.encode()[:200]
    kind = next((kind for hint, kind in _KIND_HINTS if hint in name.lower()), "image")
    if kind == "document":
        return (b"%PDF-1.4\n%sandbox " + label + b"\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
                b"trailer\n<< /Root 1 0 R >>\n%%EOF\n", "application/pdf")
    if kind == "audio":
        return _opus(label), "audio/ogg"
    if kind == "video":
        ftyp = b"ftypisom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
        free = b"free" + label
        return (struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 4 + len(free)) + free, "video/mp4")
    if kind == "sticker":
        return _WEBP, "image/webp"
    if kind == "png":
        return _png(label), "image/png"
    comment = b"sandbox " + label
    return _JPEG[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + _JPEG[2:], "image/jpeg"


class SandboxMedia:
    """WhatsApp media ids (`GET /{version}/{media-id}` answers a download URL back at this sandbox) and the files
    behind them and behind Messenger / Instagram CDN links (`GET /_sandbox/media/{name}`). A test may set a file's
    bytes, type or padded size, and make its next lookups or downloads fail (`PUT /_sandbox/media/{name}`)."""

    def __init__(self) -> None:
        self.overrides: dict[str, dict[str, Any]] = {}

    def file(self, name: str) -> tuple[bytes, str]:
        override = self.overrides.get(name, {})
        content, mime = sandbox_file(name)
        if "content_base64" in override:
            content = base64.b64decode(override["content_base64"])
        if (size := int(override.get("size") or 0)) > len(content):
            content += b"\x00" * (size - len(content))
        return content, str(override.get("mime_type") or mime)

    def failure(self, name: str, counter: str) -> JSONResponse | None:
        """The configured failure for this request, counting it down."""
        override = self.overrides.get(name)
        if not override or int(override.get(counter) or 0) <= 0:
            return None
        override[counter] = int(override[counter]) - 1
        status = int(override.get("fail_status") or 503)
        return graph_error(status, 2, "Service temporarily unavailable")

    def info(self, name: str, base_url: str) -> dict[str, Any]:
        content, mime = self.file(name)
        return {"messaging_product": "whatsapp", "url": f"{base_url.rstrip('/')}/_sandbox/media/{name}",
                "mime_type": mime, "sha256": hashlib.sha256(content).hexdigest(), "file_size": len(content),
                "id": name}


class SocialSandbox:
    def __init__(self, recorded: list[dict[str, Any]], ids: Iterator[int] | None = None):
        self.recorded = recorded
        self.whatsapp_media = SandboxMedia()
        self.ids = ids or itertools.count(int(time.time() * 1000))  # unique across restarts, as Meta's are
        self.page_posts: dict[str, list[dict[str, Any]]] = {}
        self.containers: dict[str, dict[str, Any]] = {}
        self.media: dict[str, list[dict[str, Any]]] = {}
        self.replies: dict[str, list[dict[str, Any]]] = {}
        self.private_replied: set[str] = set()
        self.hidden: set[str] = set()

    async def _record(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:  # Graph also takes form fields
            body = dict((await request.form()).items())
        self.recorded.append({"id": len(self.recorded) + 1, "method": request.method, "path": request.url.path,
                              "query": dict(request.query_params), "body": body or None,
                              "received_at": datetime.now(UTC).isoformat()})
        return body

    def private_reply(self, comment_id: str, n: int) -> JSONResponse:
        if comment_id in self.private_replied:
            return graph_error(400, 10900, "Activity already replied to")
        self.private_replied.add(comment_id)
        # The commenter's inbox id: stable per comment author in Meta; per comment here is enough.
        psid = "SBX" + str(int(hashlib.sha256(comment_id.encode()).hexdigest()[:12], 16))
        return JSONResponse({"recipient_id": psid, "message_id": f"m_SANDBOX_{n}"})

    def mount(self, app: FastAPI) -> None:  # noqa: C901 - one small handler per Graph endpoint
        @app.get("/_sandbox/media/{name}")
        async def media_file(name: str, request: Request) -> Response:
            await self._record(request)
            if (failure := self.whatsapp_media.failure(name, "fail_downloads")) is not None:
                return failure
            content, mime = self.whatsapp_media.file(name)
            return Response(content, media_type=mime)

        @app.put("/_sandbox/media/{name}")
        async def configure_media(name: str, request: Request) -> JSONResponse:
            """{content_base64?, mime_type?, size?, fail_lookups?, fail_downloads?, fail_status?}"""
            self.whatsapp_media.overrides[name] = orjson.loads(await request.body() or b"{}")
            return JSONResponse(self.whatsapp_media.info(name, str(request.base_url)))

        @app.post("/{version}/{page_id}/feed")
        async def page_feed(version: str, page_id: str, request: Request) -> JSONResponse:
            body = await self._record(request)
            if not body.get("message") and not body.get("link"):
                return graph_error(400, 100, "(#100) Missing message or attachment")
            post_id = f"{page_id}_{next(self.ids)}"
            self._page_post(page_id, post_id, body.get("message"))
            return JSONResponse({"id": post_id})

        @app.post("/{version}/{page_id}/photos")
        async def page_photo(version: str, page_id: str, request: Request) -> JSONResponse:
            body = await self._record(request)
            if not body.get("url"):
                return graph_error(400, 324, "(#324) Requires upload file")
            photo_id = str(next(self.ids))
            post_id = f"{page_id}_{photo_id}"
            self._page_post(page_id, post_id, body.get("caption") or body.get("message"))
            return JSONResponse({"id": photo_id, "post_id": post_id})

        @app.get("/{version}/{page_id}/published_posts")
        async def published_posts(version: str, page_id: str, request: Request) -> JSONResponse:
            await self._record(request)
            return JSONResponse({"data": list(reversed(self.page_posts.get(page_id, [])))})

        @app.post("/{version}/{ig_user_id}/media")
        async def media_container(version: str, ig_user_id: str, request: Request) -> JSONResponse:
            body = await self._record(request)
            if not (body.get("image_url") or body.get("video_url")):
                return graph_error(400, 9004, "The media could not be fetched from this uri")
            container_id = f"178{next(self.ids):015d}"
            self.containers[container_id] = {"owner": ig_user_id, "caption": body.get("caption") or "",
                                             "status_code": "FINISHED"}
            return JSONResponse({"id": container_id})

        @app.post("/{version}/{ig_user_id}/media_publish")
        async def media_publish(version: str, ig_user_id: str, request: Request) -> JSONResponse:
            body = await self._record(request)
            container = self.containers.get(str(body.get("creation_id")))
            if container is None or container["owner"] != ig_user_id:
                return graph_error(400, 100, "(#100) Invalid creation_id")
            if container["status_code"] == "PUBLISHED":
                return graph_error(400, 9007, "The media has already been published")
            if len(self._published_today(ig_user_id)) >= INSTAGRAM_QUOTA:
                return graph_error(400, 9, "Application request limit reached (content publishing limit)")
            media_id = f"179{next(self.ids):015d}"
            container["status_code"] = "PUBLISHED"
            self.media.setdefault(ig_user_id, []).append({
                "id": media_id, "caption": container["caption"], "timestamp": datetime.now(UTC).isoformat()})
            return JSONResponse({"id": media_id})

        @app.get("/{version}/{ig_user_id}/media")
        async def media_list(version: str, ig_user_id: str, request: Request) -> JSONResponse:
            await self._record(request)
            return JSONResponse({"data": list(reversed(self.media.get(ig_user_id, [])))})

        @app.get("/{version}/{ig_user_id}/content_publishing_limit")
        async def publishing_limit(version: str, ig_user_id: str, request: Request) -> JSONResponse:
            await self._record(request)
            return JSONResponse({"data": [{"quota_usage": len(self._published_today(ig_user_id)),
                                           "config": {"quota_total": INSTAGRAM_QUOTA, "quota_duration": 86400}}]})

        @app.post("/{version}/{comment_id}/comments")
        @app.post("/{version}/{comment_id}/replies")
        async def reply(version: str, comment_id: str, request: Request) -> JSONResponse:
            body = await self._record(request)
            if not body.get("message"):
                return graph_error(400, 100, "(#100) Missing message")
            reply_id = f"{comment_id}_r{next(self.ids)}"
            self.replies.setdefault(comment_id, []).append({"id": reply_id, "message": body["message"]})
            return JSONResponse({"id": reply_id})

        @app.get("/{version}/{comment_id}/comments")
        @app.get("/{version}/{comment_id}/replies")
        async def list_replies(version: str, comment_id: str, request: Request) -> JSONResponse:
            await self._record(request)
            return JSONResponse({"data": self.replies.get(comment_id, [])})

        @app.get("/{version}/{object_id}")
        async def read_object(version: str, object_id: str, request: Request) -> JSONResponse:
            await self._record(request)
            if (container := self.containers.get(object_id)) is not None:
                return JSONResponse({"id": object_id, "status_code": container["status_code"]})
            if "status_code" not in request.query_params.get("fields", ""):  # a WhatsApp media id
                if (failure := self.whatsapp_media.failure(object_id, "fail_lookups")) is not None:
                    return failure
                return JSONResponse(self.whatsapp_media.info(object_id, str(request.base_url)))
            return graph_error(400, 100, f"(#100) Unsupported get request. Object with ID '{object_id}' "
                                         "does not exist")

        @app.post("/{version}/{object_id}")
        async def update_object(version: str, object_id: str, request: Request) -> JSONResponse:
            body = await self._record(request)
            if body.get("is_hidden") in (True, "true") or body.get("hide") in (True, "true"):
                self.hidden.add(object_id)
            elif body.get("is_hidden") in (False, "false") or body.get("hide") in (False, "false"):
                self.hidden.discard(object_id)
            else:
                return graph_error(400, 100, "(#100) No supported field to update")
            return JSONResponse({"success": True})

    def _page_post(self, page_id: str, post_id: str, message: str | None) -> None:
        self.page_posts.setdefault(page_id, []).append({
            "id": post_id, "message": message or "", "created_time": datetime.now(UTC).isoformat()})

    def _published_today(self, ig_user_id: str) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return [m for m in self.media.get(ig_user_id, [])
                if (now - datetime.fromisoformat(m["timestamp"])).total_seconds() < 86400]
