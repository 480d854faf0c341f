"""Bodies of the automation actions n8n calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field


ActionKind = Literal["follow_up", "nurturing", "closing_offer", "cart_recovery", "payment_reminder"]


class AutomationMessageRequest(BaseModel):
    """What the event carried (n8n forwards its `payload` and `raised_at`); the kind is in the path."""

    contact_id: int
    step: str = Field(min_length=1, max_length=40)
    subject: str = Field(min_length=1, max_length=200, description="what the step is about (conversation, cart...)")
    raised_at: AwareDatetime = Field(description="when the event was raised: a customer message after it stops "
                                                 "the send")
    context: dict[str, Any] = Field(default_factory=dict)
    conversation_id: int | None = Field(None, description="the conversation the event is about, if any")


class AutomationMessageResponse(BaseModel):
    status: Literal["queued", "duplicate", "skipped", "deferred"]
    reason: str | None = None
    outbound_id: int | None = None
    retry_at: datetime | None = None
