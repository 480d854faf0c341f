"""Bodies of the privacy endpoints (erasure, export, consent, Meta's deletion callback)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field


class ErasureOut(BaseModel):
    confirmation_code: str
    contact_ids: list[int] = Field(description="the contact and the duplicates merged with it")
    removed: dict[str, int] = Field(description="rows changed or deleted, per place")
    residue: list[str] = Field(description="columns still holding one of their identifiers (empty when complete)")


class ConsentIn(BaseModel):
    kind: Literal["opt_in", "opt_out"]
    scope: Literal["marketing", "all"] = "marketing"
    channel: str | None = None
    source: str = Field("api", description="where the consent was given: a form, the shop, an agent...")
    evidence: str | None = Field(None, max_length=500, description="a reference, never the message's text")
    occurred_at: AwareDatetime | None = None


class ConsentOut(BaseModel):
    contact_id: int
    kind: str
    scope: str
    channel: str | None
    source: str
    occurred_at: datetime
    may_receive_marketing: bool


class DeletionCallbackOut(BaseModel):
    url: str
    confirmation_code: str


class DeletionStatusOut(BaseModel):
    confirmation_code: str
    status: Literal["pending", "completed", "not_found"]
    requested_at: datetime
    completed_at: datetime | None
