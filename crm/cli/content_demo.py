"""The content part of `crm demo` (flows 14-17): the generator drafts this week's posts from the catalog, two are
approved and brought forward to now, the calendar's clock (the due-posts sensor's function) hands them to the
running worker, which publishes them to the Graph sandbox's page and Instagram account; then customers comment on
them (signed webhooks through the API) and the auto-responder answers. Prints what happened at each step."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import psycopg
from rich.console import Console
from rich.table import Table

from crm.db.urls import plain_url

console = Console()
# What customers write under the demo's posts, and the action the responder should take.
DEMO_COMMENTS = (
    ("facebook", ("6100000000000001", "Carla Méndez"), "¿Cuánto cuesta? La quiero para mi hijo"),
    ("instagram", ("7700000000000001", "lucia.mx"), "¿hacen envíos a Colón?"),
    ("instagram", ("7700000000000002", "promo.bot"), "Gana dinero desde casa www.promo-rapida.xyz"),
    ("facebook", ("6100000000000002", "Pedro Gil"), "Mi pedido llegó roto y nadie me responde, qué mala atención"),
    ("instagram", ("7700000000000003", "ana.r"), "Me encanta 😍"),
)


def run_content(base_url: str, secret: str) -> None:
    from crm.settings import get_settings
    from orchestration.defs.content.drafts import generate_for_database
    from serving.demo.stream import IG_ACCOUNT_ID, PAGE_ID

    database_url = os.environ["DATABASE_URL"]
    settings = get_settings()
    now = datetime.now(UTC)
    _ensure_accounts(database_url, PAGE_ID, IG_ACCOUNT_ID)
    report = generate_for_database(database_url, settings, current_week=True, now=now)
    written = report.written_by()
    console.print(f"content generator (week of {report.monday}): {report.proposed} ideas from the catalog, "
                  f"{report.inserted} new drafts ({written['template']} by templates, {written['llm']} by an LLM), "
                  f"{report.already} already in the calendar")
    post_ids = _approve_two_now(database_url, now)
    if not post_ids:
        console.print("[yellow]no draft to publish: the calendar has none left[/yellow]")
        return
    asyncio.run(_hand_to_publisher(database_url, now))
    published = _wait(lambda: _count(database_url, "SELECT count(*) FROM crm.content_posts WHERE id = ANY(%s) "
                                     "AND status IN ('published', 'failed')", post_ids) == len(post_ids))
    _print_posts(database_url, post_ids, published)
    targets = _published_targets(database_url, post_ids)
    if not targets:
        return
    sent = asyncio.run(_comment(base_url, secret, targets, PAGE_ID, IG_ACCOUNT_ID))
    _wait(lambda: _count(database_url, "SELECT count(*) FROM crm.comment_actions WHERE comment_external_id = "
                         "ANY(%s) AND status NOT IN ('pending', 'sending')", sent) == len(sent))
    _print_comments(database_url, sent)


def _ensure_accounts(database_url: str, page_id: str, ig_id: str) -> None:
    with psycopg.connect(plain_url(database_url), autocommit=True) as conn:
        conn.execute("INSERT INTO crm.channel_accounts (channel, external_id, display_name) VALUES "
                     "('messenger', %s, 'Demo page'), ('instagram', %s, 'demo.shop') "
                     "ON CONFLICT (channel, external_id) DO NOTHING", (page_id, ig_id))


def _approve_two_now(database_url: str, now: datetime) -> list[int]:
    """A person approving two drafts, and (for the demo) moving them to now so they are due at once."""
    from crm.db.engine import create_engine, session_factory
    from serving.services import content_calendar

    async def go() -> list[int]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                drafts = await content_calendar.list_posts(session, "draft")
                chosen = [post.id for post in drafts[:2]]
                for post_id in chosen:
                    await content_calendar.approve(session, post_id, "demo", now)
                    await content_calendar.reschedule(session, post_id, now - timedelta(seconds=1))
                await session.commit()
                return chosen
        finally:
            await engine.dispose()

    return asyncio.run(go())


async def _hand_to_publisher(database_url: str, now: datetime) -> None:
    """One tick of the due-posts sensor, then the dispatcher: each due post becomes a publish job."""
    from crm.db.engine import create_engine, session_factory
    from crm.settings import get_settings
    from orchestration.defs.content.publishing import raise_due_posts
    from orchestration.defs.resources import WarehouseResource
    from serving.services.automation.dispatcher import dispatch_due

    raised = raise_due_posts(WarehouseResource(dsn=database_url), now)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            await dispatch_due(session, get_settings(), now, limit=1000)
            await session.commit()
    finally:
        await engine.dispose()
    console.print(f"due-posts sensor tick: {raised} posts due, handed to the worker's publisher")


def _published_targets(database_url: str, post_ids: list[int]) -> dict[str, str]:
    with psycopg.connect(plain_url(database_url)) as conn:
        rows = conn.execute("SELECT channel, external_id FROM crm.content_publications WHERE post_id = ANY(%s) "
                            "AND status = 'published' ORDER BY post_id DESC", (post_ids,)).fetchall()
    return {channel: external_id for channel, external_id in rows}


async def _comment(base_url: str, secret: str, targets: dict[str, str], page_id: str, ig_id: str) -> list[str]:
    from serving.services.ingest.signature import sign

    stamp = int(time.time())
    sent: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for n, (channel, (author_id, name), text) in enumerate(DEMO_COMMENTS):
            post = targets.get(channel) or next(iter(targets.values()))
            channel = "facebook" if post.startswith(f"{page_id}_") else "instagram"
            comment_id = f"{post}_{stamp}{n}" if channel == "facebook" else f"18{stamp}{n:03d}"
            if channel == "facebook":
                body = {"object": "page", "entry": [{"id": page_id, "time": stamp, "changes": [{"field": "feed",
                        "value": {"item": "comment", "verb": "add", "comment_id": comment_id, "post_id": post,
                                  "parent_id": post, "from": {"id": author_id, "name": name},
                                  "created_time": stamp, "message": text}}]}]}
            else:
                body = {"object": "instagram", "entry": [{"id": ig_id, "time": stamp, "changes": [{
                    "field": "comments", "value": {"from": {"id": author_id, "username": name},
                                                   "media": {"id": post, "media_product_type": "FEED"},
                                                   "id": comment_id, "text": text}}]}]}
            raw = orjson.dumps(body)
            for _ in range(2):  # Meta delivers some events twice: the second changes nothing
                response = await client.post(f"{base_url}/api/v1/webhooks/inbound", content=raw, headers={
                    "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, secret)})
                response.raise_for_status()
            sent.append(comment_id)
    console.print(f"{len(sent)} comments delivered twice each to the webhook")
    return sent


def _count(database_url: str, sql: str, ids: list) -> int:
    with psycopg.connect(plain_url(database_url)) as conn:
        return int(conn.execute(sql, (ids,)).fetchone()[0])


def _wait(done, timeout_s: float = 45.0) -> bool:  # noqa: ANN001 - a predicate
    deadline = time.monotonic() + timeout_s
    with console.status("waiting for the worker..."):
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.5)
    return False


def _print_posts(database_url: str, post_ids: list[int], settled: bool) -> None:
    with psycopg.connect(plain_url(database_url)) as conn:
        rows = conn.execute("SELECT p.id, p.status, p.body, string_agg(c.channel || ' ' || coalesce(c.external_id, "
                            "c.status || ': ' || coalesce(c.last_error, '')), ', ' ORDER BY c.channel) "
                            "FROM crm.content_posts p LEFT JOIN crm.content_publications c ON c.post_id = p.id "
                            "WHERE p.id = ANY(%s) GROUP BY p.id ORDER BY p.id", (post_ids,)).fetchall()
    table = Table(title="Posts approved and published (Graph sandbox)" + ("" if settled else ": still waiting"))
    table.add_column("post")
    table.add_column("status")
    table.add_column("caption (first line)", no_wrap=True, max_width=34)
    table.add_column("published as", overflow="fold")
    for post_id, status, body, where in rows:
        table.add_row(str(post_id), status, body.splitlines()[0], where or "-")
    console.print(table)


def _print_comments(database_url: str, comment_ids: list[str]) -> None:
    with psycopg.connect(plain_url(database_url)) as conn:
        rows = conn.execute("SELECT s.channel, s.text, coalesce(a.action, 'none'), coalesce(a.status, '-'), "
                            "coalesce(a.reply_text, a.reason, '') FROM crm.social_comments s "
                            "LEFT JOIN crm.comment_actions a ON a.channel = s.channel "
                            "AND a.comment_external_id = s.external_id WHERE s.external_id = ANY(%s) "
                            "ORDER BY s.id", (comment_ids,)).fetchall()
        replies = conn.execute("SELECT count(*) FROM crm.comment_actions WHERE comment_external_id = ANY(%s) "
                               "AND action IN ('public_reply', 'private_reply', 'escalate') AND status = 'done'",
                               (comment_ids,)).fetchone()[0]
    table = Table(title=f"Comment auto-responder: {len(rows)} comments stored once, {replies} answered once each")
    table.add_column("comment", no_wrap=True, max_width=24)
    table.add_column("action", no_wrap=True, min_width=13)
    table.add_column("status", no_wrap=True, min_width=7)
    table.add_column("reply / why", no_wrap=True, max_width=26)
    for channel, text, action, status, reply in rows:
        table.add_row(("FB: " if channel == "facebook" else "IG: ") + text, action, status, reply.splitlines()[0])
    console.print(table)


def print_content_performance() -> None:
    """After the dbt build: the content funnel per published post (marts.mart_content_performance)."""
    database_url = os.environ["DATABASE_URL"]
    try:
        with psycopg.connect(plain_url(database_url)) as conn:
            rows = conn.execute(
                "SELECT count(*), coalesce(sum(comments), 0), coalesce(sum(public_replies), 0), "
                "coalesce(sum(private_replies), 0), coalesce(sum(hidden), 0), coalesce(sum(escalated), 0), "
                "coalesce(sum(dms), 0), coalesce(sum(leads), 0), coalesce(sum(orders), 0) "
                "FROM marts.mart_content_performance").fetchone()
    except psycopg.errors.UndefinedTable:
        return  # the dbt build failed before it; the platform summary says so
    posts, comments, public, private, hidden, escalated, dms, leads, orders = rows
    console.print(f"content funnel (dbt: marts.mart_content_performance): {posts} published posts, {comments} "
                  f"comments, {public} public and {private} private replies, {hidden} hidden, {escalated} "
                  f"escalated, {dms} answered in DM, {leads} leads, {orders} orders")
