"""Response shapes for the raw-event (webhook log and dead-letter) API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class RawEventSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    object_type: str | None
    signature_state: str
    processing_status: str
    attempts: int
    last_error: str | None
    processed_at: datetime | None
    item_counts: dict[str, Any]


class RawEventDetail(RawEventSummary):
    headers: dict[str, Any]
    unparsed: list[Any]
    body: Any


class RequeueResult(BaseModel):
    id: int
    processing_status: str
    job_id: int


class IngestStats(BaseModel):
    raw_events_by_status: dict[str, int]
    messages_by_channel: dict[str, int]
    statuses: int
    comments: int
    feed_events: int
    lead_ads: int
    contacts: int
    conversations_by_status: dict[str, int]
    intents: dict[str, int]
    contacts_by_lead_category: dict[str, int]
    conversations_by_route: dict[str, int]
    average_sentiment: float | None
    outbound_by_status: dict[str, int]
