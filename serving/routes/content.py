"""The content calendar over HTTP (issue 8): list, draft, approve and reschedule posts. Publishing is not a
route: the calendar's clock (Dagster's due_posts_sensor) hands due approved posts to the worker's publisher."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status

from serving.deps import AdminKey, ReadKey, SessionDep
from serving.schemas.content import PostIn, PostOut, RescheduleIn
from serving.services import content_calendar as calendar

router = APIRouter(prefix="/content", tags=["content"])


def _refused(exc: Exception) -> HTTPException:
    code = status.HTTP_404_NOT_FOUND if isinstance(exc, LookupError) else status.HTTP_409_CONFLICT
    return HTTPException(code, str(exc))


@router.get("/posts", response_model=list[PostOut])
async def list_posts(session: SessionDep, _: ReadKey, status_filter: str | None = None) -> list[PostOut]:
    """Posts by scheduled time (`?status_filter=draft|approved|published|failed`)."""
    return [PostOut.model_validate(p) for p in await calendar.list_posts(session, status_filter)]


@router.post("/posts", response_model=PostOut, status_code=status.HTTP_201_CREATED)
async def create_post(body: PostIn, session: SessionDep, _: AdminKey) -> PostOut:
    """A draft: it waits for a person's approval."""
    try:
        post = await calendar.create_post(session, body=body.body, channels=list(body.channels),
                                          media_url=body.media_url, scheduled_at=body.scheduled_at)
    except calendar.ContentError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    answer = PostOut.model_validate(post)
    await session.commit()
    return answer


@router.post("/posts/{post_id}/approve", response_model=PostOut)
async def approve(post_id: int, session: SessionDep, who: AdminKey) -> PostOut:
    try:
        post = await calendar.approve(session, post_id, f"key:{who.name}", datetime.now(UTC))
    except (LookupError, calendar.ContentError) as exc:
        raise _refused(exc) from exc
    answer = PostOut.model_validate(post)
    await session.commit()
    return answer


@router.patch("/posts/{post_id}", response_model=PostOut)
async def reschedule(post_id: int, body: RescheduleIn, session: SessionDep, _: AdminKey) -> PostOut:
    try:
        post = await calendar.reschedule(session, post_id, body.scheduled_at)
    except (LookupError, calendar.ContentError) as exc:
        raise _refused(exc) from exc
    answer = PostOut.model_validate(post)
    await session.commit()
    return answer
