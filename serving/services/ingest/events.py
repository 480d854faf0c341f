"""Normalized events: what every Meta webhook body is parsed into before it is stored.

Each event carries a `dedup_key`, unique per channel in its table, so a redelivery is recognised in the
database (ON CONFLICT DO NOTHING) rather than in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Delivery states only move forward; "failed" outranks everything so it is never overwritten.
STATUS_RANK: dict[str, int] = {
    "accepted": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "played": 5,
    "deleted": 6,
    "failed": 7,
}


def status_rank(status: str) -> int:
    return STATUS_RANK.get(status, 0)


@dataclass(slots=True)
class MessageEvent:
    channel: str
    dedup_key: str
    external_id: str | None
    direction: str
    message_type: str
    counterpart_external_id: str
    account_external_id: str = ""
    text: str | None = None
    media: list[dict[str, Any]] = field(default_factory=list)
    reply_to_external_id: str | None = None
    context: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    sender_profile: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None
    is_echo: bool = False
    errors: list[Any] | None = None


@dataclass(slots=True)
class StatusEvent:
    channel: str
    dedup_key: str
    status: str
    external_message_id: str | None = None
    occurred_at: datetime | None = None
    watermark: datetime | None = None
    account_external_id: str = ""
    counterpart_external_id: str | None = None
    errors: list[Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    status_rank: int = 0

    def __post_init__(self) -> None:
        self.status_rank = status_rank(self.status)

    @property
    def rank(self) -> int:
        return self.status_rank


@dataclass(slots=True)
class CommentEvent:
    channel: str  # instagram | facebook
    dedup_key: str
    kind: str  # comment | mention
    verb: str  # add | edited | remove | hide | unhide
    external_id: str | None = None
    post_external_id: str | None = None
    parent_external_id: str | None = None
    account_external_id: str = ""
    author_external_id: str | None = None
    author_name: str | None = None
    text: str | None = None
    created_time: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FeedEvent:
    dedup_key: str
    item: str
    verb: str | None = None
    account_external_id: str = ""
    post_external_id: str | None = None
    author_external_id: str | None = None
    author_name: str | None = None
    reaction_type: str | None = None
    text: str | None = None
    occurred_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    channel: str = "facebook"


@dataclass(slots=True)
class LeadgenEvent:
    dedup_key: str
    leadgen_id: str
    account_external_id: str = ""
    form_id: str | None = None
    ad_id: str | None = None
    adgroup_id: str | None = None
    created_time: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    channel: str = "facebook"


@dataclass(slots=True)
class ParsedDelivery:
    """Everything one webhook body contained. `unparsed` lists the parts we stored but did not understand."""

    object_type: str | None
    messages: list[MessageEvent] = field(default_factory=list)
    statuses: list[StatusEvent] = field(default_factory=list)
    comments: list[CommentEvent] = field(default_factory=list)
    feed: list[FeedEvent] = field(default_factory=list)
    leads: list[LeadgenEvent] = field(default_factory=list)
    unparsed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def needs_processing(self) -> bool:
        """Statuses and feed activity are complete once stored; messages, comments and leads go to the worker."""
        return bool(self.messages or self.comments or self.leads)

    def counts(self) -> dict[str, int]:
        return {
            "messages": len(self.messages),
            "statuses": len(self.statuses),
            "comments": len(self.comments),
            "feed": len(self.feed),
            "leads": len(self.leads),
            "unparsed": len(self.unparsed),
        }
