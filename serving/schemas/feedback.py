"""Bodies of the label-feedback endpoint."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from ml.nlu.types import Intent, SentimentLabel


class LabelFeedbackRequest(BaseModel):
    message_id: int | None = Field(None, description="a stored message; its text is what gets the label")
    text: str | None = Field(None, min_length=1, max_length=4000, description="or the text itself")
    intent: Intent | None = None
    sentiment: SentimentLabel | None = None

    @model_validator(mode="after")
    def _complete(self) -> LabelFeedbackRequest:
        if (self.message_id is None) == (self.text is None):
            raise ValueError("give exactly one of message_id or text")
        if self.intent is None and self.sentiment is None:
            raise ValueError("give an intent, a sentiment or both")
        return self


class LabelFeedbackResponse(BaseModel):
    id: int
    message_id: int | None
    intent: str | None
    sentiment: str | None
    labelled_by: str
    created_at: datetime
