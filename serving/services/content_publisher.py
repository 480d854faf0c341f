"""Publishing an approved post when it is due (flow 15), once per channel, whatever fails or repeats.

Each channel has a publication row; its state is committed before every request to Meta, so a crash or a lost
answer is confirmed against Meta before anything is sent again:
- Facebook: `publishing` with no id means the request may have gone; the page's recent posts are searched for the
  post's text before a new attempt.
- Instagram: the container id is stored before `media_publish`; its `status_code` says whether it was published
  (PUBLISHED), may be published (FINISHED), must wait (IN_PROGRESS) or must be made again (ERROR, EXPIRED).
Limits: Instagram's rolling 24-hour quota is read before each publish; a page gets at most
CONTENT_FACEBOOK_POSTS_PER_DAY from us. A post waiting on a limit is retried later, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models import ContentPost, ContentPublication
from crm.settings import Settings
from serving.services.automation.events import raise_event
from serving.services.channels.accounts import NoAccount, account_token, publishing_account
from serving.services.channels.graph import GraphError
from serving.services.channels.graph_social import SocialGraph
from serving.services.jobs import defer_job

log = structlog.get_logger(__name__)
CONTENT_QUEUE = "content"
PUBLISH_TASK = "publish_post"
CONTAINER_WAIT = timedelta(seconds=30)  # Instagram processes a container (video: minutes) before publishing
QUOTA_WAIT = timedelta(hours=1)
# A lost Facebook answer: the page's posts created since our attempt (less clock skew) are searched for ours,
# a few minutes later (Meta's listing may lag the write).
CLOCK_SKEW = timedelta(minutes=1)
CONFIRM_AFTER = timedelta(minutes=5)
# An Instagram container still processing after this long is given up and made again (counts as an attempt).
CONTAINER_DEADLINE = timedelta(minutes=30)
ALREADY_PUBLISHED_CODES = {9007}  # media_publish of a container that was published: an earlier attempt worked
# A request still in flight (the Graph client times out after 10 s): nobody else touches its channel meanwhile.
IN_FLIGHT = timedelta(seconds=60)


@dataclass(frozen=True)
class PublishOutcome:
    status: str  # the post's status afterwards (or not_due / missing)
    retry_at: datetime | None = None


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, capped at an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


async def defer_publish(session: AsyncSession, post_id: int, at: datetime | None = None) -> None:
    """The publish job for a post, in the caller's transaction; one job at a time per post (its lock)."""
    await defer_job(session, queue=CONTENT_QUEUE, task=PUBLISH_TASK, lock=f"post:{post_id}", arg="post_id",
                    value=post_id, at=at)


async def publish_post(sessions: async_sessionmaker[AsyncSession], social: SocialGraph, settings: Settings,
                       post_id: int, now: datetime | None = None) -> PublishOutcome:
    """Publishes what is due of one post and settles its status; returns when to come back, if it must."""
    now = now or datetime.now(UTC)
    async with sessions() as session:
        post = await session.get(ContentPost, post_id, with_for_update=True)
        if post is None:
            return PublishOutcome("missing")
        if post.status != "approved":
            return PublishOutcome(post.status)
        if post.scheduled_at is not None and post.scheduled_at > now:
            return PublishOutcome("not_due", post.scheduled_at)
        try:
            for channel in post.channels:
                account = await publishing_account(session, channel)
                await session.execute(insert(ContentPublication).values(
                    post_id=post.id, channel=channel, account_external_id=account)
                    .on_conflict_do_nothing(index_elements=["post_id", "channel"]))
        except NoAccount as exc:
            post.status, post.last_error = "failed", str(exc)
            await session.commit()
            log.warning("content.publish_failed", post_id=post_id, error=str(exc))
            return PublishOutcome("failed")
        channels = list(post.channels)
        await session.commit()
    for channel in channels:
        publisher = _publish_instagram if channel == "instagram" else _publish_facebook
        await publisher(sessions, social, settings, post_id, now)
    return await _settle(sessions, post_id, now)


async def _publish_facebook(sessions: async_sessionmaker[AsyncSession], social: SocialGraph, settings: Settings,
                            post_id: int, now: datetime) -> None:
    async with sessions() as session:
        post, pub = await _lock(session, post_id, "facebook")
        if not _workable(pub, now):
            return
        token = await account_token(session, "facebook", pub.account_external_id, settings)
        if pub.status == "publishing":  # the last request may have reached Meta: look before posting again
            try:
                found = await _find_page_post(social, pub, post.body, token)
            except GraphError as exc:  # cannot tell yet: the row stays as it is until the page answers
                pub.next_attempt_at, pub.last_error = now + CONFIRM_AFTER, f"confirming: {exc}"[:1000]
                await session.commit()
                return
            if found:
                _published(pub, found, now)
                await session.commit()
                log.info("content.publish_confirmed", post_id=post_id, channel="facebook", external_id=found)
                return
        if await _facebook_day_used(session, pub.account_external_id, now) >= settings.content_facebook_posts_per_day:
            pub.status, pub.next_attempt_at = "pending", now + QUOTA_WAIT
            pub.last_error = "daily post limit for this page reached (CONTENT_FACEBOOK_POSTS_PER_DAY)"
            await session.commit()
            return
        _start(pub, now)
        body, media_url = post.body, post.media_url
        await session.commit()
    try:
        external_id = await social.publish_page_post(pub.account_external_id, body, media_url, token)
    except GraphError as exc:
        await _record_failure(sessions, post_id, "facebook", exc, settings, now)
        return
    await _record_published(sessions, post_id, "facebook", external_id, now)


async def _find_page_post(social: SocialGraph, pub: ContentPublication, body: str, token: str | None) -> str | None:
    """Our post among the page's posts created since our attempt (the same text posted earlier is not ours)."""
    since = (pub.started_at or pub.updated_at) - CLOCK_SKEW
    for item in await social.recent_page_posts(pub.account_external_id, since, token):
        created = _parse_time(item.get("created_time"))
        if (item.get("message") or "").strip() == body.strip() and (created is None or created >= since):
            return str(item["id"])
    return None


def _parse_time(value: object) -> datetime | None:
    """Graph writes times as 2026-11-26T05:00:00+0000."""
    if not value:
        return None
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


async def _facebook_day_used(session: AsyncSession, page_id: str, now: datetime) -> int:
    return int(await session.scalar(select(func.count()).select_from(ContentPublication).where(
        ContentPublication.channel == "facebook", ContentPublication.account_external_id == page_id,
        ContentPublication.status == "published", ContentPublication.published_at > now - timedelta(days=1))) or 0)


async def _publish_instagram(sessions: async_sessionmaker[AsyncSession], social: SocialGraph, settings: Settings,
                             post_id: int, now: datetime) -> None:
    account: str
    async with sessions() as session:
        post, pub = await _lock(session, post_id, "instagram")
        if not _workable(pub, now):
            return
        token = await account_token(session, "instagram", pub.account_external_id, settings)
        account, caption, media_url = pub.account_external_id, post.body, post.media_url or ""
        container = pub.container_id
        try:
            if container:  # made before: what became of it decides the next step
                state = await social.container_status(container, token)
                if state == "PUBLISHED":
                    media_id = await _find_media(social, account, caption, token)
                    _published(pub, media_id or container, now)
                    await session.commit()
                    log.info("content.publish_confirmed", post_id=post_id, channel="instagram", container=container)
                    return
                stuck = state == "IN_PROGRESS" and pub.started_at is not None and now - pub.started_at > CONTAINER_DEADLINE
                if state == "IN_PROGRESS" and not stuck:
                    pub.next_attempt_at = now + CONTAINER_WAIT
                    await session.commit()
                    return
                if state in ("ERROR", "EXPIRED") or stuck:
                    pub.container_id = container = None
                    pub.last_error = f"Instagram could not process the media ({'too slow' if stuck else state})"
                    if pub.attempts >= settings.content_max_publish_attempts:
                        pub.status = "failed"
                        await session.commit()
                        return
            if (quota := await social.publishing_quota(account, token)).exhausted:
                pub.status, pub.next_attempt_at = "pending", now + QUOTA_WAIT
                pub.last_error = f"Instagram publishing limit reached ({quota.used}/{quota.total} in 24 h)"
                await session.commit()
                return
        except GraphError as exc:  # reads only: nothing was published by them, but the attempt counts
            await session.rollback()
            await _record_failure(sessions, post_id, "instagram", exc, settings, now, count_attempt=True)
            return
        _start(pub, now)
        await session.commit()
    try:
        if container is None:
            # A container alone publishes nothing (it expires in 24 h), so making it again is harmless.
            container = await social.create_media_container(account, caption, media_url, token)
            async with sessions() as session:
                _, pub = await _lock(session, post_id, "instagram")
                pub.container_id = container
                await session.commit()
            if (state := await social.container_status(container, token)) != "FINISHED":
                async with sessions() as session:
                    _, pub = await _lock(session, post_id, "instagram")
                    if state in ("ERROR", "EXPIRED"):
                        pub.container_id = None
                        pub.last_error = f"Instagram could not process the media ({state})"
                        failed = pub.attempts >= settings.content_max_publish_attempts
                        pub.status = "failed" if failed else "pending"
                    pub.next_attempt_at = now + CONTAINER_WAIT
                    await session.commit()
                return
        media_id = await social.publish_container(account, container, token)
    except GraphError as exc:
        await _record_failure(sessions, post_id, "instagram", exc, settings, now)
        return
    await _record_published(sessions, post_id, "instagram", media_id, now)


async def _find_media(social: SocialGraph, account: str, caption: str, token: str | None) -> str | None:
    for item in await social.recent_media(account, token):
        if (item.get("caption") or "").strip() == caption.strip():
            return str(item["id"])
    return None


async def _lock(session: AsyncSession, post_id: int, channel: str) -> tuple[ContentPost, ContentPublication]:
    post = await session.get(ContentPost, post_id)
    pub = (await session.scalars(select(ContentPublication).where(
        ContentPublication.post_id == post_id, ContentPublication.channel == channel).with_for_update())).one()
    assert post is not None
    return post, pub


def _workable(pub: ContentPublication, now: datetime) -> bool:
    """Not settled, not waiting, and not in another job's hands right now."""
    if pub.status in ("published", "failed"):
        return False
    if pub.next_attempt_at is not None:
        return pub.next_attempt_at <= now
    return not (pub.status == "publishing" and pub.started_at is not None and now - pub.started_at < IN_FLIGHT)


def _comes_back_at(pub: ContentPublication, now: datetime) -> datetime:
    if pub.next_attempt_at is not None:
        return pub.next_attempt_at
    if pub.status == "publishing" and pub.started_at is not None:
        return pub.started_at + IN_FLIGHT
    return now


def _start(pub: ContentPublication, now: datetime) -> None:
    pub.status, pub.attempts, pub.started_at, pub.next_attempt_at = "publishing", pub.attempts + 1, now, None


def _published(pub: ContentPublication, external_id: str, now: datetime) -> None:
    pub.status, pub.external_id, pub.published_at, pub.last_error = "published", external_id, now, None
    pub.next_attempt_at = None


async def _record_published(sessions: async_sessionmaker[AsyncSession], post_id: int, channel: str,
                            external_id: str, now: datetime) -> None:
    async with sessions() as session:
        _, pub = await _lock(session, post_id, channel)
        _published(pub, external_id, now)
        await session.commit()
    log.info("content.published", post_id=post_id, channel=channel, external_id=external_id)


async def _record_failure(sessions: async_sessionmaker[AsyncSession], post_id: int, channel: str, exc: GraphError,
                          settings: Settings, now: datetime, count_attempt: bool = False) -> None:
    """A lost answer (or Instagram saying the container was published already) stays `publishing`, confirmed
    before the next attempt; a transient error waits and tries again; anything else, or too many attempts, fails
    the channel with Meta's message."""
    async with sessions() as session:
        _, pub = await _lock(session, post_id, channel)
        pub.last_error = str(exc)[:1000]
        pub.attempts += 1 if count_attempt else 0
        if exc.maybe_sent or exc.code in ALREADY_PUBLISHED_CODES:
            pub.status, pub.next_attempt_at = "publishing", now + max(CONFIRM_AFTER, retry_delay(pub.attempts))
        elif exc.retryable and pub.attempts < settings.content_max_publish_attempts:
            pub.status, pub.next_attempt_at = "pending", now + retry_delay(pub.attempts)
        else:
            pub.status = "failed"
        await session.commit()
    log.warning("content.publish_error", post_id=post_id, channel=channel, status=pub.status, error=str(exc))


async def _settle(sessions: async_sessionmaker[AsyncSession], post_id: int, now: datetime) -> PublishOutcome:
    """The post is published when every channel is; failed when one failed and none is still in flight; else it
    comes back when the earliest channel may be tried again."""
    async with sessions() as session:
        post = await session.get(ContentPost, post_id, with_for_update=True)
        assert post is not None
        pubs = (await session.scalars(select(ContentPublication).where(ContentPublication.post_id == post_id))).all()
        post.external_ids = {p.channel: p.external_id for p in pubs if p.external_id}
        outcome: PublishOutcome
        if pubs and all(p.status == "published" for p in pubs):
            post.status, post.published_at, post.last_error = "published", max(p.published_at for p in pubs), None
            await raise_event(session, "post.published", "content_post", post.id, {
                "post_id": post.id, "channels": post.external_ids, "source": post.source,
                "published_at": post.published_at.isoformat()})
            outcome = PublishOutcome("published")
        elif any(p.status == "failed" for p in pubs) and all(p.status in ("published", "failed") for p in pubs):
            post.status = "failed"
            post.last_error = "; ".join(f"{p.channel}: {p.last_error}" for p in pubs if p.status == "failed")
            outcome = PublishOutcome("failed")
        else:
            waits = [_comes_back_at(p, now) for p in pubs if p.status not in ("published", "failed")]
            retry_at = max(now, min(waits)) if waits else now
            post.last_error = "; ".join(f"{p.channel}: {p.last_error}" for p in pubs if p.last_error) or None
            await defer_publish(session, post_id, retry_at)
            outcome = PublishOutcome("approved", retry_at)
        await session.commit()
    if outcome.status != "approved":
        log.info("content.post_settled", post_id=post_id, status=outcome.status)
    return outcome


STALLED_POSTS_SQL = text("""
SELECT p.id FROM crm.content_posts p
WHERE p.status = 'approved' AND coalesce(p.scheduled_at, p.approved_at, p.created_at) <= :now
  AND NOT EXISTS (SELECT 1 FROM crm.procrastinate_jobs j WHERE j.task_name = :task
                  AND j.status IN ('todo', 'doing') AND (j.args->>'post_id')::bigint = p.id)
  AND NOT EXISTS (SELECT 1 FROM crm.content_publications c WHERE c.post_id = p.id
                  AND c.next_attempt_at > :now)
  AND EXISTS (SELECT 1 FROM crm.automation_events e WHERE e.event_type = 'content.post_due'
              AND e.subject_id = p.id::text AND e.status = 'delivered')
""")


async def requeue_stalled_posts(session: AsyncSession, now: datetime) -> int:
    """Due posts already handed to the publisher whose job is gone (a job that crashed on an unexpected error,
    a worker killed mid-way) get a new one: a post is never left approved with nobody on it."""
    post_ids = list((await session.scalars(STALLED_POSTS_SQL, {"now": now, "task": PUBLISH_TASK})).all())
    for post_id in post_ids:
        await defer_publish(session, post_id)
    if post_ids:
        log.warning("content.stalled_posts_requeued", post_ids=post_ids)
    return len(post_ids)
