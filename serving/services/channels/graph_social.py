"""Meta's Graph API for pages and Instagram accounts: publishing posts and acting on comments.

- Facebook page: `POST /{page-id}/photos` (`url`, `caption`) or `/{page-id}/feed` (`message`, `link`);
  `GET /{page-id}/published_posts` to confirm a post whose answer was lost.
- Instagram, two steps: `POST /{ig-user-id}/media` (`image_url` or `video_url` + `media_type`, `caption`) creates a
  container; `GET /{container-id}?fields=status_code` says when it is FINISHED; `POST /{ig-user-id}/media_publish`
  (`creation_id`) publishes it. `GET /{ig-user-id}/content_publishing_limit` is the rolling 24-hour quota.
- Comments: a public reply is `POST /{comment-id}/comments` (Facebook) or `/{comment-id}/replies` (Instagram); a
  private reply is the Send API with `recipient: {comment_id}` (one per comment, within 7 days); hiding is
  `POST /{comment-id}` with `is_hidden` (Facebook) or `hide` (Instagram).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serving.services.channels.graph import GraphClient, GraphError

VIDEO_SUFFIXES = (".mp4", ".mov")


@dataclass(frozen=True)
class PublishingQuota:
    used: int
    total: int

    @property
    def exhausted(self) -> bool:
        return self.used >= self.total


class SocialGraph:
    """The page and Instagram endpoints, over the same HTTP client and error handling as the Send API."""

    def __init__(self, graph: GraphClient):
        self._graph = graph

    # -- Facebook page posts ------------------------------------------------------------------------------
    async def publish_page_post(self, page_id: str, message: str, media_url: str | None, token: str | None) -> str:
        """The page post's id (`<page-id>_<post-id>`, what comment webhooks call `post_id`)."""
        if media_url:
            data = await self._graph._post(f"/{page_id}/photos", {"url": media_url, "caption": message}, token)
            return _required(data, "post_id", fallback="id")
        data = await self._graph._post(f"/{page_id}/feed", {"message": message}, token)
        return _required(data, "id")

    async def recent_page_posts(self, page_id: str, since: datetime, token: str | None) -> list[dict[str, Any]]:
        data = await self._graph._get(self._graph._base + f"/{page_id}/published_posts", token,
                                      {"fields": "id,message,created_time", "since": str(int(since.timestamp())),
                                       "limit": "25"})
        return list(data.get("data") or [])

    # -- Instagram media ----------------------------------------------------------------------------------
    async def create_media_container(self, ig_user_id: str, caption: str, media_url: str, token: str | None) -> str:
        body: dict[str, Any] = {"caption": caption}
        if media_url.lower().split("?")[0].endswith(VIDEO_SUFFIXES):
            body.update(media_type="REELS", video_url=media_url)
        else:
            body["image_url"] = media_url
        return _required(await self._graph._post(f"/{ig_user_id}/media", body, token), "id")

    async def container_status(self, container_id: str, token: str | None) -> str:
        """EXPIRED, ERROR, FINISHED, IN_PROGRESS or PUBLISHED."""
        data = await self._graph._get(self._graph._base + f"/{container_id}", token, {"fields": "status_code"})
        return str(data.get("status_code") or "IN_PROGRESS")

    async def publish_container(self, ig_user_id: str, container_id: str, token: str | None) -> str:
        data = await self._graph._post(f"/{ig_user_id}/media_publish", {"creation_id": container_id}, token)
        return _required(data, "id")

    async def recent_media(self, ig_user_id: str, token: str | None) -> list[dict[str, Any]]:
        data = await self._graph._get(self._graph._base + f"/{ig_user_id}/media", token,
                                      {"fields": "id,caption,timestamp", "limit": "25"})
        return list(data.get("data") or [])

    async def publishing_quota(self, ig_user_id: str, token: str | None) -> PublishingQuota:
        data = await self._graph._get(self._graph._base + f"/{ig_user_id}/content_publishing_limit", token,
                                      {"fields": "quota_usage,config"})
        rows = data.get("data") or [{}]
        config = rows[0].get("config") or {}
        return PublishingQuota(used=int(rows[0].get("quota_usage") or 0), total=int(config.get("quota_total") or 100))

    # -- Comments -----------------------------------------------------------------------------------------
    async def reply_publicly(self, channel: str, comment_id: str, message: str, token: str | None) -> str:
        edge = "replies" if channel == "instagram" else "comments"
        return _required(await self._graph._post(f"/{comment_id}/{edge}", {"message": message}, token), "id")

    async def comment_replies(self, channel: str, comment_id: str, token: str | None) -> list[dict[str, Any]]:
        edge = "replies" if channel == "instagram" else "comments"
        fields = "id,text,from" if channel == "instagram" else "id,message,from"
        data = await self._graph._get(self._graph._base + f"/{comment_id}/{edge}", token,
                                      {"fields": fields, "limit": "50"})
        return list(data.get("data") or [])

    async def reply_privately(self, account_id: str, comment_id: str, message: str,
                              token: str | None) -> tuple[str, str | None]:
        """(message id, the customer's PSID / IGSID): the reply opens a conversation in their inbox."""
        body = {"recipient": {"comment_id": comment_id}, "message": {"text": message[:2000]}}
        data = await self._graph._post(f"/{account_id}/messages", body, token)
        return _required(data, "message_id"), (str(data["recipient_id"]) if data.get("recipient_id") else None)

    async def hide_comment(self, channel: str, comment_id: str, token: str | None) -> None:
        field = "hide" if channel == "instagram" else "is_hidden"
        data = await self._graph._post(f"/{comment_id}", {field: True}, token)
        if data.get("success") is not True:
            raise GraphError(200, None, f"hiding {comment_id} was not confirmed: {str(data)[:200]}", retryable=True)


def _required(data: dict[str, Any], key: str, fallback: str | None = None) -> str:
    value = data.get(key) or (data.get(fallback) if fallback else None)
    if not value:  # accepted, but without the id we cannot prove it later: confirm before sending again
        raise GraphError(200, None, f"no {key} in the answer: {str(data)[:300]}", retryable=False, maybe_sent=True)
    return str(value)
