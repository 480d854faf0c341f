"""The webhook log: what Meta sent, how it was processed, and the dead letters (admin scope to requeue)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from serving.deps import AdminKey, ReadKey, SessionDep
from serving.schemas.events import IngestStats, RawEventDetail, RawEventSummary, RequeueResult
from serving.services import raw_events

router = APIRouter(prefix="/events", tags=["events"])

STATUSES = ("queued", "processed", "no_action", "retrying", "dead_letter")


@router.get("", response_model=list[RawEventSummary])
async def list_events(
    session: SessionDep,
    _: ReadKey,
    status: str | None = Query(None, description=f"one of {', '.join(STATUSES)}"),
    limit: int = Query(50, ge=1, le=500),
) -> list[RawEventSummary]:
    if status is not None and status not in STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(STATUSES)}")
    events = await raw_events.list_raw_events(session, status, limit)
    return [RawEventSummary.model_validate(event) for event in events]


@router.get("/stats", response_model=IngestStats)
async def stats(session: SessionDep, _: ReadKey) -> IngestStats:
    return IngestStats(**await raw_events.ingest_stats(session))


@router.get("/{event_id}", response_model=RawEventDetail)
async def get_event(event_id: int, session: SessionDep, _: ReadKey) -> RawEventDetail:
    try:
        event = await raw_events.get_raw_event(session, event_id)
    except raw_events.RawEventNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    summary = RawEventSummary.model_validate(event).model_dump()
    return RawEventDetail(**summary, headers=event.headers, unparsed=event.unparsed,
                          body=raw_events.decoded_body(event))


@router.post("/{event_id}/retry", response_model=RequeueResult)
async def retry_event(event_id: int, session: SessionDep, _: AdminKey) -> RequeueResult:
    try:
        job_id = await raw_events.requeue_raw_event(session, event_id)
    except raw_events.RawEventNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return RequeueResult(id=event_id, processing_status="queued", job_id=job_id)
