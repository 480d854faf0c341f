"""The agent API's shapes: conversations with their ticket, messages, and what an agent sends."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ConversationStatus = Literal["open", "pending_human", "human", "resolved", "closed"]


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    department: str
    priority: int
    reasons: list[str]
    status: str
    agent_id: int | None
    summary: str | None
    created_at: datetime
    assigned_at: datetime | None


class ConversationOut(BaseModel):
    id: int
    contact_id: int
    contact_name: str | None
    channel: str
    status: str
    bot_paused: bool
    assigned_agent: str | None
    priority: int | None
    last_intent: str | None
    avg_sentiment: float | None
    last_message_at: datetime | None
    window_open: bool = Field(description="Free-form messages may go (24 h since the customer last wrote).")
    window_closes_at: datetime | None
    close_reason: str | None
    csat_score: int | None
    ticket: TicketOut | None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: str
    message_type: str
    text: str | None
    status: str | None
    sent_at: datetime | None


class TemplateChoice(BaseModel):
    name: str = Field(min_length=1, max_length=512)
    language: str = Field("es", min_length=2, max_length=15)
    parameters: list[str] = Field(default_factory=list, max_length=20)


class AgentMessageIn(BaseModel):
    """Text (inside the 24-hour window), or an approved WhatsApp template (any time)."""

    text: str | None = Field(None, min_length=1, max_length=4096)
    quick_replies: list[str] = Field(default_factory=list, max_length=10)
    template: TemplateChoice | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> AgentMessageIn:
        if (self.text is None) == (self.template is None):
            raise ValueError("send either `text` or `template`")
        return self


class QueuedMessageOut(BaseModel):
    outbound_id: int
    status: str
    kind: str
    duplicate: bool = False


class ClaimIn(BaseModel):
    agent_id: int | None = Field(None, description="Admin keys name the agent; an agent's own key needs nothing.")
    force: bool = Field(False, description="Take it over from another agent.")


class HandbackIn(BaseModel):
    note: str | None = Field(None, max_length=2000)


class CloseIn(BaseModel):
    reason: str = Field("resolved_by_agent", min_length=1, max_length=100)
    ask_csat: bool = True


class AgentIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=320)
    department: Literal["sales_team", "retention_specialist", "support_team"]
    skills: list[str] = Field(default_factory=list, max_length=50)
    languages: list[str] = Field(default_factory=lambda: ["es", "en"], max_length=10)
    capacity: int = Field(5, ge=0, le=1000)
    available: bool = True


class AgentOut(AgentIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    live_tickets: int = 0


class AvailabilityIn(BaseModel):
    available: bool
