"""Bodies of the automation actions n8n calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field


class AutomationMessageRequest(BaseModel):
    """What the event carried (n8n forwards its `payload` and `raised_at`)."""

    contact_id: int
    kind: Literal["follow_up", "nurturing", "closing", "cart", "payment"]
    step: str = Field(min_length=1, max_length=40)
    subject: str = Field(min_length=1, max_length=200, description="what the step is about (conversation, cart...)")
    raised_at: AwareDatetime = Field(description="when the event was raised: a customer message after it stops "
                                                 "the send")
    context: dict[str, Any] = Field(default_factory=dict)


class AutomationMessageResponse(BaseModel):
    status: Literal["queued", "duplicate", "skipped", "deferred"]
    reason: str | None = None
    outbound_id: int | None = None
    retry_at: datetime | None = None
