"""Bodies of the content-calendar endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Channel = Literal["instagram", "facebook"]


class PostIn(BaseModel):
    body: str = Field(min_length=1, max_length=2200, description="the caption (Instagram allows 2,200 characters)")
    channels: list[Channel] = Field(min_length=1)
    media_url: str | None = Field(None, description="a public image or video URL (required for Instagram)")
    scheduled_at: AwareDatetime | None = None


class RescheduleIn(BaseModel):
    scheduled_at: AwareDatetime


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    body: str
    media_url: str | None
    channels: list[str]
    scheduled_at: datetime | None
    status: str
    source: str
    external_ids: dict[str, Any]
    last_error: str | None
    approved_by: str | None
    approved_at: datetime | None
    published_at: datetime | None
    created_at: datetime
