"""The actions n8n workflows call (API key scope `automation`): send an automated message with every guard rail
(serving/services/automation/actions.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status

from serving.deps import AutomationKey, SessionDep, SettingsDep
from serving.schemas.automation import ActionKind, AutomationMessageRequest, AutomationMessageResponse
from serving.services.automation.actions import send_automation_message
from serving.services.automation.messages import UnknownMessage

router = APIRouter(prefix="/automation", tags=["automation"])


@router.post("/actions/{kind}", response_model=AutomationMessageResponse)
async def run_action(kind: ActionKind, body: AutomationMessageRequest, session: SessionDep, settings: SettingsDep,
                     _: AutomationKey) -> AutomationMessageResponse:
    """Queue a follow-up / nurturing / closing / cart / payment message, or say why not (opted out, the customer
    replied, quiet hours with the time to retry, daily cap, already sent for this step)."""
    try:
        result = await send_automation_message(
            session, settings, contact_id=body.contact_id, kind=kind, step=body.step, subject=body.subject,
            raised_at=body.raised_at, context=body.context, now=datetime.now(UTC),
            conversation_id=body.conversation_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except UnknownMessage as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    await session.commit()
    return AutomationMessageResponse(status=result.status, reason=result.reason, outbound_id=result.outbound_id,
                                     retry_at=result.retry_at)
