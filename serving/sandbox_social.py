"""The Graph sandbox's Facebook page and Instagram account: page posts and photos, Instagram's container +
`media_publish`, the publishing quota, public and private replies to comments, and hiding comments, answered in
Meta's shapes and recorded with everything else (`GET /_sandbox/messages`). Like Meta it refuses what must not
happen twice: a second `media_publish` of one container, a second private reply to one comment."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

INSTAGRAM_QUOTA = 100  # posts per rolling 24 hours through the API


def graph_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "OAuthException", "code": code,
                                   "fbtrace_id": "SANDBOX"}}, status_code=status)


class SocialSandbox:
    def __init__(self, recorded: list[dict[str, Any]], ids: Iterator[int] | None = None):
        self.recorded = recorded
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
