"""Facebook page `changes`: the feed (comments, posts, reactions, shares) and lead-ad submissions."""

from __future__ import annotations

from typing import Any

from serving.services.channels.common import (
    as_dict,
    as_id,
    as_time,
    fingerprint,
    pg_safe,
    text_or_none,
)
from serving.services.ingest.events import CommentEvent, FeedEvent, LeadgenEvent, ParsedDelivery


def parse_change(change: dict[str, Any], account: str, entry_time: Any, delivery: ParsedDelivery,
                 where: str) -> None:
    field = change.get("field")
    value = as_dict(change.get("value"))
    if field == "feed" and value:
        if value.get("item") == "comment":
            delivery.comments.append(_comment(value, account, entry_time))
        else:
            delivery.feed.append(_feed(value, account, entry_time))
    elif field == "leadgen" and value:
        delivery.leads.append(_lead(value, account))
    else:
        delivery.unparsed.append({"at": where, "field": field, "reason": "field not handled"})


def _comment(value: dict[str, Any], account: str, entry_time: Any) -> CommentEvent:
    comment_id = as_id(value.get("comment_id"))
    verb = text_or_none(value.get("verb")) or "add"
    created = as_time(value.get("created_time")) or as_time(entry_time)
    # `add` and `remove` happen once per comment; edits and hide/unhide toggles repeat: their time (and, for an
    # edit, the text) tells them apart. A redelivery repeats both, so it still collides as it should.
    suffix = "" if verb in ("add", "remove") else f":{fingerprint(entry_time, value)}"
    author = as_dict(value.get("from"))
    payload = {k: pg_safe(value[k]) for k in ("photo", "video", "is_hidden", "reaction_type") if k in value}
    return CommentEvent(
        channel="facebook",
        dedup_key=f"{comment_id}:{verb}{suffix}" if comment_id else f"synthetic:{fingerprint(value)}",
        kind="comment",
        verb=verb,
        external_id=comment_id,
        post_external_id=as_id(value.get("post_id")),
        parent_external_id=as_id(value.get("parent_id")),
        account_external_id=account,
        author_external_id=as_id(author.get("id")),
        author_name=text_or_none(author.get("name")),
        text=text_or_none(value.get("message")),
        created_time=created,
        payload=payload,
    )


def _feed(value: dict[str, Any], account: str, entry_time: Any) -> FeedEvent:
    item = text_or_none(value.get("item")) or "unknown"
    verb = text_or_none(value.get("verb"))
    author = as_dict(value.get("from"))
    post_id = as_id(value.get("post_id"))
    # No id of its own: the whole change plus the entry's time (identical in a redelivery, different otherwise).
    key = f"{item}:{fingerprint(entry_time, value)}"
    return FeedEvent(
        dedup_key=key,
        item=item,
        verb=verb,
        account_external_id=account,
        post_external_id=post_id,
        author_external_id=as_id(author.get("id") or value.get("sender_id")),
        author_name=text_or_none(author.get("name") or value.get("sender_name")),
        reaction_type=text_or_none(value.get("reaction_type")),
        text=text_or_none(value.get("message")),
        occurred_at=as_time(value.get("created_time")) or as_time(entry_time),
        payload=pg_safe(value),
    )


def _lead(value: dict[str, Any], account: str) -> LeadgenEvent:
    leadgen_id = as_id(value.get("leadgen_id")) or f"synthetic:{fingerprint(value)}"
    return LeadgenEvent(
        dedup_key=leadgen_id,
        leadgen_id=leadgen_id,
        account_external_id=as_id(value.get("page_id")) or account,
        form_id=as_id(value.get("form_id")),
        ad_id=as_id(value.get("ad_id")),
        adgroup_id=as_id(value.get("adgroup_id")),
        created_time=as_time(value.get("created_time")),
        payload=pg_safe(value),
    )
