"""Publishing (flows 15-16) against the Graph sandbox: the calendar's clock raises a due post once, the dispatcher
queues its job, and the post goes out exactly once per channel, even when the job runs twice at once, when
Meta's answer is lost (confirmed from the page's posts / the container's status, never sent again), or when a
limit makes it wait. A refused channel fails the post with Meta's words; approving it again retries that channel
only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
import psycopg
import pytest
import respx

from crm.db.engine import create_engine, session_factory
from orchestration.defs.content.publishing import due_posts_sensor, raise_due_posts
from orchestration.defs.resources import WarehouseResource
from serving.services import content_calendar
from serving.services.automation.dispatcher import dispatch_due
from serving.services.channels.graph import GraphClient
from serving.services.channels.graph_social import SocialGraph
from serving.services.content_publisher import publish_post, requeue_stalled_posts
from tests.helpers import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]
PAGE, IG = "page-pub-1", "17841-pub"
IMAGE = "https://cdn.example.com/mochila.jpg"


class LosingTransport(httpx.AsyncHTTPTransport):
    """Forwards to the sandbox, then loses the answer of the first POST whose path ends with `lose`."""

    def __init__(self, lose: str | None = None) -> None:
        super().__init__()
        self.lose = lose

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if self.lose and request.method == "POST" and request.url.path.endswith(self.lose):
            self.lose = None
            await response.aclose()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


@pytest.fixture
async def sessions(clean_db: str) -> AsyncIterator:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.channel_accounts (channel, external_id, display_name) VALUES "
                     "('messenger', %s, 'Tienda'), ('instagram', %s, 'tienda')", (PAGE, IG))
    engine = create_engine(clean_db)
    yield session_factory(engine)
    await engine.dispose()


def social(sandbox: str, lose: str | None = None) -> SocialGraph:
    return SocialGraph(GraphClient(sandbox, "v21.0", client=httpx.AsyncClient(transport=LosingTransport(lose))))


async def new_post(sessions, body: str, channels: list[str], at: datetime, approve: bool = True,  # noqa: ANN001
                   media_url: str | None = IMAGE) -> int:
    async with sessions() as session:
        post = await content_calendar.create_post(session, body=body, channels=channels, media_url=media_url,
                                                  scheduled_at=at)
        if approve:
            await content_calendar.approve(session, post.id, "test", datetime.now(UTC))
        await session.commit()
        return post.id


def recorded(sandbox: str, suffix: str, text: str) -> list[dict]:
    """Requests the sandbox got on paths ending with `suffix` carrying `text` (in a caption or message)."""
    calls = httpx.get(f"{sandbox}/_sandbox/messages").json()
    return [c for c in calls if c["method"] == "POST" and c["path"].endswith(suffix) and text in str(c["body"])]


def post_row(url: str, post_id: int) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT status, external_ids, last_error FROM crm.content_posts WHERE id = %s",
                            (post_id,)).fetchone()


async def test_a_scheduled_post_is_published_exactly_once(clean_db: str, sessions, graph_sandbox: str) -> None:
    now = datetime.now(UTC)
    post_id = await new_post(sessions, "Mochila urbana negra, nueva en tienda #once", ["facebook", "instagram"],
                             now - timedelta(minutes=1))
    later = await new_post(sessions, "Mañana: bolsos de viaje", ["facebook"], now + timedelta(hours=20))
    warehouse = WarehouseResource(dsn=clean_db)
    # The real sensor, as the Dagster daemon evaluates it: only the post whose time has come.
    outcome = due_posts_sensor(dg.build_sensor_context(resources={"warehouse": warehouse}))
    assert outcome.skip_message == "1 posts due"
    assert raise_due_posts(warehouse, now + timedelta(seconds=60)) == 0, "ticking again raises nothing new"

    async with sessions() as session:
        report = await dispatch_due(session, make_settings(clean_db), now)
        await session.commit()
    assert report.delivered == 1
    with psycopg.connect(clean_db) as conn:
        jobs = conn.execute("SELECT args->>'post_id' FROM crm.procrastinate_jobs WHERE task_name = 'publish_post'"
                            ).fetchall()
    assert jobs == [(str(post_id),)]

    # The job twice at once (a retry racing the first run): one post per channel all the same.
    graph = social(graph_sandbox)
    outcomes = await asyncio.gather(*(publish_post(sessions, graph, make_settings(clean_db), post_id)
                                      for _ in range(2)))
    assert {o.status for o in outcomes} <= {"published", "approved"}
    await publish_post(sessions, graph, make_settings(clean_db), post_id)
    assert len(recorded(graph_sandbox, f"/{PAGE}/photos", "#once")) == 1
    assert len(recorded(graph_sandbox, f"/{IG}/media", "#once")) == 1
    publishes = [c for c in httpx.get(f"{graph_sandbox}/_sandbox/messages").json()
                 if c["path"].endswith(f"/{IG}/media_publish")]
    assert len(publishes) == 1
    status, external_ids, error = post_row(clean_db, post_id)
    assert status == "published" and error is None
    assert external_ids["facebook"].startswith(f"{PAGE}_") and external_ids["instagram"].isdigit()
    assert post_row(clean_db, later)[0] == "approved", "not due yet: untouched"
    outcome = await publish_post(sessions, graph, make_settings(clean_db), later)
    assert outcome.status == "not_due" and not recorded(graph_sandbox, "/photos", "bolsos de viaje")
    with psycopg.connect(clean_db) as conn:
        assert conn.execute("SELECT count(*) FROM crm.automation_events WHERE event_type = 'post.published'"
                            ).fetchone()[0] == 1


async def test_a_lost_answer_is_confirmed_at_meta_not_sent_again(clean_db: str, sessions,
                                                                 graph_sandbox: str) -> None:
    now = datetime.now(UTC)
    fb = await new_post(sessions, "Promo de lunes: 2x1 en termos #lostfb", ["facebook"], now)
    ig = await new_post(sessions, "Lentes de sol polarizados #lostig", ["instagram"], now)
    settings = make_settings(clean_db)

    first = await publish_post(sessions, social(graph_sandbox, lose="/photos"), settings, fb)
    assert first.status == "approved" and first.retry_at is not None, "unknown outcome: comes back later"
    with psycopg.connect(clean_db) as conn:
        assert conn.execute("SELECT status FROM crm.content_publications WHERE post_id = %s", (fb,)
                            ).fetchone() == ("publishing",)
    again = await publish_post(sessions, social(graph_sandbox), settings, fb, now=first.retry_at)
    assert again.status == "published"
    assert len(recorded(graph_sandbox, "/photos", "#lostfb")) == 1, "found on the page, not posted twice"

    first = await publish_post(sessions, social(graph_sandbox, lose="/media_publish"), settings, ig)
    assert first.status == "approved"
    again = await publish_post(sessions, social(graph_sandbox), settings, ig, now=first.retry_at)
    assert again.status == "published"
    containers = recorded(graph_sandbox, f"/{IG}/media", "#lostig")
    assert len(containers) == 1
    status, external_ids, _ = post_row(clean_db, ig)
    assert status == "published" and external_ids["instagram"].isdigit()


async def test_a_refused_channel_fails_the_post_and_approving_again_retries_it(
        clean_db: str, sessions, graph_sandbox: str) -> None:
    now = datetime.now(UTC)
    post_id = await new_post(sessions, "Gorras bordadas #refused", ["facebook", "instagram"], now)
    settings = make_settings(clean_db)
    with respx.mock(base_url=graph_sandbox, assert_all_called=False) as meta:
        meta.route(path__regex=r".*/media$").respond(400, json={"error": {
            "message": "The media could not be fetched from this uri", "code": 9004}})
        meta.route().pass_through()
        outcome = await publish_post(sessions, SocialGraph(GraphClient(graph_sandbox, "v21.0")), settings, post_id)
    assert outcome.status == "failed"
    status, external_ids, error = post_row(clean_db, post_id)
    assert status == "failed" and "instagram" in error and "could not be fetched" in error
    assert list(external_ids) == ["facebook"], "the page post went out and stays"

    async with sessions() as session:
        await content_calendar.approve(session, post_id, "test", datetime.now(UTC))
        await session.commit()
    assert raise_due_posts(WarehouseResource(dsn=clean_db), datetime.now(UTC)) == 1, "due again once approved"
    assert (await publish_post(sessions, social(graph_sandbox), settings, post_id)).status == "published"
    assert len(recorded(graph_sandbox, "/photos", "#refused")) == 1, "facebook not posted a second time"


async def test_instagram_quota_and_a_missing_account_are_waited_on_or_explained(
        clean_db: str, sessions, graph_sandbox: str) -> None:
    now = datetime.now(UTC)
    post_id = await new_post(sessions, "Cinturones de cuero #quota", ["instagram"], now)
    settings = make_settings(clean_db)
    with respx.mock(base_url=graph_sandbox, assert_all_called=False) as meta:
        meta.get(path__regex=r".*/content_publishing_limit$").respond(json={"data": [
            {"quota_usage": 100, "config": {"quota_total": 100, "quota_duration": 86400}}]})
        meta.route().pass_through()
        outcome = await publish_post(sessions, SocialGraph(GraphClient(graph_sandbox, "v21.0")), settings, post_id)
    assert outcome.status == "approved" and outcome.retry_at is not None
    assert outcome.retry_at >= now + timedelta(minutes=59)
    assert not recorded(graph_sandbox, "/media", "#quota"), "nothing sent over the limit"
    assert "publishing limit" in post_row(clean_db, post_id)[2]

    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("UPDATE crm.channel_accounts SET status = 'disabled' WHERE channel = 'messenger'")
    orphan = await new_post(sessions, "Sin página", ["facebook"], now, media_url=None)
    assert (await publish_post(sessions, social(graph_sandbox), settings, orphan)).status == "failed"
    assert "crm channels add --channel messenger" in post_row(clean_db, orphan)[2]


async def test_instagram_errors_are_bounded_and_a_vanished_job_is_replaced(clean_db: str, sessions,
                                                                           graph_sandbox: str) -> None:
    now = datetime.now(UTC)
    settings = make_settings(clean_db, content_max_publish_attempts=2)
    broken = await new_post(sessions, "Video vertical #broken", ["instagram"], now)
    with respx.mock(base_url=graph_sandbox, assert_all_called=False) as meta:
        meta.get(path__regex=r"/v21.0/178\d+$").respond(json={"status_code": "ERROR"})
        meta.route().pass_through()
        graph = SocialGraph(GraphClient(graph_sandbox, "v21.0"))
        at = now
        for _ in range(4):  # Meta cannot process the media: made again, then given up, never a loop
            outcome = await publish_post(sessions, graph, settings, broken, now=at)
            if outcome.status == "failed":
                break
            at = outcome.retry_at
    assert outcome.status == "failed"
    assert "could not process the media" in post_row(clean_db, broken)[2]
    assert len(recorded(graph_sandbox, f"/{IG}/media", "#broken")) == 2, "one container per allowed attempt"

    # "Already published" (9007) after a lost answer is confirmed from the container, not failed.
    done = await new_post(sessions, "Pulseras tejidas #already", ["instagram"], now)
    first = await publish_post(sessions, social(graph_sandbox, lose="/media_publish"), settings, done)
    with respx.mock(base_url=graph_sandbox, assert_all_called=False) as meta:
        meta.get(path__regex=r"/v21.0/178\d+$").respond(json={"status_code": "FINISHED"})  # Meta lagging
        meta.route().pass_through()
        again = await publish_post(sessions, SocialGraph(GraphClient(graph_sandbox, "v21.0")), settings, done,
                                   now=first.retry_at)
    assert again.status == "approved", "9007: probably published, confirmed next time"
    final = await publish_post(sessions, social(graph_sandbox), settings, done, now=again.retry_at)
    assert final.status == "published"

    # A due post whose job died is given a new one by the sweep (once its event was delivered).
    orphan = await new_post(sessions, "Llaveros #orphan", ["facebook"], now)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.automation_events (event_type, subject_type, subject_id, idempotency_key, "
                     "status) VALUES ('content.post_due', 'content_post', %s, 'k-orphan', 'delivered')",
                     (str(orphan),))
        conn.execute("DELETE FROM crm.procrastinate_jobs WHERE task_name = 'publish_post'")
    async with sessions() as session:
        assert await requeue_stalled_posts(session, datetime.now(UTC)) == 1
        await session.commit()
    async with sessions() as session:
        assert await requeue_stalled_posts(session, datetime.now(UTC)) == 0, "its job is there now"
