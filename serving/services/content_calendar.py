"""The content calendar's rules (issue 8): a post is drafted, approved by a person (unless auto-publish is on),
scheduled, then published once. Drafts and failed posts can be approved; anything not yet published can be
rescheduled; a published post never changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import ContentPost, ContentPublication
from crm.db.models.content import POST_CHANNELS


class ContentError(ValueError):
    """The post cannot go where it was asked to (unknown, published already, bad channel)."""


async def create_post(session: AsyncSession, *, body: str, channels: list[str], media_url: str | None,
                      scheduled_at: datetime | None, source: str = "api") -> ContentPost:
    unknown = sorted(set(channels) - set(POST_CHANNELS))
    if unknown or not channels:
        raise ContentError(f"channels must be among {', '.join(POST_CHANNELS)}; got {', '.join(channels) or 'none'}")
    if "instagram" in channels and not media_url:
        raise ContentError("an Instagram post needs a media_url (Instagram publishes images and videos, not text)")
    post = ContentPost(body=body, channels=sorted(set(channels)), media_url=media_url, scheduled_at=scheduled_at,
                       source=source)
    session.add(post)
    await session.flush()
    await session.refresh(post)
    return post


async def get_post(session: AsyncSession, post_id: int) -> ContentPost:
    post = await session.get(ContentPost, post_id)
    if post is None:
        raise LookupError(f"no post {post_id}")
    return post


async def list_posts(session: AsyncSession, status: str | None = None, limit: int = 100) -> list[ContentPost]:
    query = select(ContentPost).order_by(ContentPost.scheduled_at.asc().nulls_last(), ContentPost.id).limit(limit)
    if status:
        query = query.where(ContentPost.status == status)
    return list((await session.scalars(query)).all())


async def approve(session: AsyncSession, post_id: int, who: str, now: datetime) -> ContentPost:
    post = await get_post(session, post_id)
    if post.status not in ("draft", "failed"):
        raise ContentError(f"post {post_id} is {post.status}: only drafts and failed posts can be approved")
    post.status, post.approved_by, post.approved_at, post.last_error = "approved", who, now, None
    # Approving a failed post again retries the channels that failed (the published ones stay published).
    await session.execute(update(ContentPublication).where(
        ContentPublication.post_id == post_id, ContentPublication.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=None, last_error=None))
    await session.flush()
    await session.refresh(post)
    return post


async def reschedule(session: AsyncSession, post_id: int, at: datetime) -> ContentPost:
    post = await get_post(session, post_id)
    if post.status == "published":
        raise ContentError(f"post {post_id} is already published")
    post.scheduled_at = at
    await session.flush()
    await session.refresh(post)
    return post
