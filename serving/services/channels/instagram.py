"""Instagram `changes`: comments, live comments and @mentions (messaging goes through messenger.py)."""

from __future__ import annotations

from typing import Any

from serving.services.channels.common import as_dict, as_id, as_time, fingerprint, pg_safe, text_or_none
from serving.services.channels.messenger import parse_messaging
from serving.services.ingest.events import CommentEvent, ParsedDelivery

CHANNEL = "instagram"


def parse_change(change: dict[str, Any], account: str, entry_time: Any, delivery: ParsedDelivery,
                 where: str) -> None:
    field = change.get("field")
    value = as_dict(change.get("value"))
    if field in ("comments", "live_comments"):
        delivery.comments.append(_comment(value, account, entry_time, live=field == "live_comments"))
    elif field == "mentions":
        delivery.comments.append(_mention(value, account, entry_time))
    elif field in ("messages", "messaging_postbacks", "message_reactions", "messaging_seen") and value:
        # The dashboard's Test button and some Instagram-login apps wrap messaging events in `changes`.
        parse_messaging(value, CHANNEL, delivery, where)
    else:
        delivery.unparsed.append({"at": where, "field": field, "reason": "field not handled"})


def _comment(value: dict[str, Any], account: str, entry_time: Any, live: bool) -> CommentEvent:
    comment_id = as_id(value.get("id"))
    author = as_dict(value.get("from"))
    media = as_dict(value.get("media"))
    payload: dict[str, Any] = {}
    if media:
        payload["media"] = pg_safe(media)
    if live:
        payload["live"] = True
    return CommentEvent(
        channel=CHANNEL,
        dedup_key=f"{comment_id}:add" if comment_id else f"synthetic:{fingerprint(account, entry_time, value)}",
        kind="comment",
        verb="add",
        external_id=comment_id,
        post_external_id=as_id(media.get("id") or value.get("media_id")),
        parent_external_id=as_id(value.get("parent_id")),
        account_external_id=account,
        author_external_id=as_id(author.get("id")),
        author_name=text_or_none(author.get("username") or author.get("name")),
        text=text_or_none(value.get("text")),
        created_time=as_time(value.get("timestamp")) or as_time(entry_time),
        payload=payload,
    )


def _mention(value: dict[str, Any], account: str, entry_time: Any) -> CommentEvent:
    media_id = as_id(value.get("media_id"))
    comment_id = as_id(value.get("comment_id"))
    return CommentEvent(
        channel=CHANNEL,
        # A caption mention has no comment id: the media is the thing we were mentioned in.
        dedup_key=f"mention:{media_id}:{comment_id or 'caption'}",
        kind="mention",
        verb="add",
        external_id=comment_id,
        post_external_id=media_id,
        account_external_id=account,
        created_time=as_time(entry_time),
        payload={"mention_in": "comment" if comment_id else "caption"},
    )
