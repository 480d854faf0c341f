"""Labels corrected by people (agents, analysts): what a message really asked for or felt like. Stored with who
and when; the NLU retraining asset (orchestration/defs/ml/nlu_assets.py) learns from them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from crm.db.models import LabelFeedback, Message
from serving.deps import AgentKey, SessionDep
from serving.schemas.feedback import LabelFeedbackRequest, LabelFeedbackResponse

router = APIRouter(prefix="/feedback", tags=["feedback"])


@router.post("/labels", response_model=LabelFeedbackResponse, status_code=status.HTTP_201_CREATED)
async def add_label(body: LabelFeedbackRequest, session: SessionDep, who: AgentKey) -> LabelFeedbackResponse:
    """Correct the intent and / or sentiment of a stored message (`message_id`) or of a text."""
    text = body.text
    if body.message_id is not None:
        text = (await session.execute(select(Message.text).where(Message.id == body.message_id))).scalar_one_or_none()
        if text is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {body.message_id} with text")
    labelled_by = f"agent:{who.agent_id}" if who.agent_id is not None else f"key:{who.name}"
    row = LabelFeedback(message_id=body.message_id, text=text, intent=body.intent, sentiment=body.sentiment,
                        labelled_by=labelled_by)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    answer = LabelFeedbackResponse(id=row.id, message_id=row.message_id, intent=row.intent,
                                   sentiment=row.sentiment, labelled_by=labelled_by, created_at=row.created_at)
    await session.commit()
    return answer
