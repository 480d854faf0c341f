"""`make demo`: start the stack, replay the synthetic stream as signed webhooks, wait for the worker, summarise."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from serving.demo.stream import Stream, build_stream
from serving.services.ingest.signature import sign

console = Console()
DEMO_APP_SECRET = "demo-app-secret"
DEMO_VERIFY_TOKEN = "demo-verify-token"


@dataclass
class ReplayResult:
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


async def replay(stream: Stream, base_url: str, secret: str, concurrency: int = 8) -> ReplayResult:
    """Send every delivery, signed like Meta does, a few at a time (Meta delivers concurrently too)."""
    result = ReplayResult()
    semaphore = asyncio.Semaphore(concurrency)
    url = f"{base_url}/api/v1/webhooks/inbound"

    async def send(client: httpx.AsyncClient, body: bytes) -> None:
        async with semaphore:
            response = await client.post(url, content=body, headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": sign(body, secret),
                "User-Agent": "facebookexternalua",
            })
        result.sent += 1
        result.by_status[response.status_code] += 1
        if response.status_code == 200:
            if response.json()["status"] == "duplicate":
                result.duplicates += 1
            else:
                result.stored += 1
        elif len(result.errors) < 5:
            result.errors.append(f"{response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30.0) as client:
        # Keep the stream's order per customer while sending in small concurrent waves.
        bodies = [orjson.dumps(event.body) for event in stream.events]
        for offset in range(0, len(bodies), concurrency):
            await asyncio.gather(*(send(client, body) for body in bodies[offset: offset + concurrency]))
    result.elapsed_s = time.perf_counter() - started
    return result


async def load_demo_catalog() -> int:
    """An empty catalog gets the demo's products and policies, so the agent has facts to answer from."""
    from pathlib import Path

    from sqlalchemy import func, select

    from crm.db.engine import create_engine, session_factory
    from crm.db.models import Product
    from serving.services import catalog

    folder = Path(__file__).resolve().parent
    engine = create_engine(os.environ["DATABASE_URL"])
    try:
        async with session_factory(engine)() as session:
            if (await session.execute(select(func.count()).select_from(Product))).scalar_one():
                return 0
            products = catalog.parse_products_csv(catalog.read_text(folder / "catalog.csv"))
            await catalog.upsert_products(session, products)
            await catalog.replace_policies(session, catalog.parse_policies_yaml(
                catalog.read_text(folder / "policies.yaml")))
            await session.commit()
            return len(products)
    finally:
        await engine.dispose()


DEMO_AGENTS = (("Lucía Herrera", "sales_team", ["laptops", "monitores"]),
               ("Diego Castillo", "sales_team", ["accesorios"]),
               ("Marta Quintero", "support_team", ["garantías", "envíos"]),
               ("Andrés Vega", "retention_specialist", ["reclamos"]))


async def prepare_demo_data(seed: int) -> dict[str, int]:
    """Agents to escalate to (only when there are none) and a commerce history (idempotent upserts)."""
    from sqlalchemy import func, select

    from crm.db.engine import create_engine, session_factory
    from crm.db.models import Agent
    from serving.demo.commerce_history import fill_commerce_history

    engine = create_engine(os.environ["DATABASE_URL"])
    try:
        async with session_factory(engine)() as session:
            added = 0
            if not (await session.execute(select(func.count()).select_from(Agent))).scalar_one():
                session.add_all(Agent(name=name, department=department, skills=skills, capacity=8)
                                for name, department, skills in DEMO_AGENTS)
                added = len(DEMO_AGENTS)
            history = await fill_commerce_history(session, seed=seed)
            await session.commit()
            return {"agents": added, **history}
    finally:
        await engine.dispose()


async def run_outcomes(since: datetime) -> dict:
    from crm.db.engine import create_engine, session_factory
    from serving.services.conversation_stats import conversation_outcomes

    engine = create_engine(os.environ["DATABASE_URL"])
    try:
        async with session_factory(engine)() as session:
            return await conversation_outcomes(session, since)
    finally:
        await engine.dispose()


async def wait_for_worker(timeout_s: float = 60.0) -> dict:
    """Until no stored event waits for the worker; returns the ingest statistics."""
    from crm.db.engine import create_engine, session_factory
    from serving.services.raw_events import ingest_stats

    engine = create_engine(os.environ["DATABASE_URL"])
    sessions = session_factory(engine)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            async with sessions() as session:
                stats = await ingest_stats(session)
            waiting = sum(stats["raw_events_by_status"].get(s, 0) for s in ("queued", "retrying"))
            waiting += sum(stats["outbound_by_status"].get(s, 0) for s in ("queued", "sending"))
            if waiting == 0 or time.monotonic() > deadline:
                stats["waiting"] = waiting
                return stats
            await asyncio.sleep(0.3)
    finally:
        await engine.dispose()


def run_demo(customers: int, seed: int) -> tuple[str, str]:
    """Returns the API's URL and the app secret the webhooks are signed with (for the demo's later parts)."""
    from crm.cli.services import start_background
    from crm.settings import get_settings

    if not os.environ.get("META_APP_SECRET"):
        os.environ["META_APP_SECRET"] = DEMO_APP_SECRET
        os.environ.setdefault("META_VERIFY_TOKEN", DEMO_VERIFY_TOKEN)
        get_settings.cache_clear()
    secret = get_settings().meta_app_secret[0]

    console.rule("[bold]Autonomous CRM demo")
    with console.status("starting PostgreSQL, migrations, API and worker..."):
        base_url = start_background()
    console.print(f"API ready at {base_url} (OpenAPI docs: {base_url}/docs)")

    loaded = asyncio.run(load_demo_catalog())
    if loaded:
        console.print(f"loaded the demo catalog ({loaded} products) and store policies "
                      "(yours are kept: this only happens on an empty catalog)")
    prepared = asyncio.run(prepare_demo_data(seed))
    console.print(("added 4 demo agents; " if prepared.pop("agents") else "") + "commerce history in place: "
                  + ", ".join(f"{n} {what}" for what, n in prepared.items()))
    since = datetime.now(UTC)
    stream = build_stream(customers=customers, seed=seed)
    kinds = Counter(event.kind.split(":")[0] for event in stream.events)
    console.print(f"replaying {len(stream.events)} signed webhook deliveries from {len(stream.customers)} "
                  f"customers (seed {seed}): " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    result = asyncio.run(replay(stream, base_url, secret))
    with console.status("waiting for the worker to process the queue..."):
        stats = asyncio.run(wait_for_worker())
    _print_summary(stream, result, stats)
    _print_outcomes(asyncio.run(run_outcomes(since)))
    rejected = result.sent - result.stored - result.duplicates
    dead = stats["raw_events_by_status"].get("dead_letter", 0)
    if rejected or stats.get("waiting") or dead:
        console.print(f"[red]demo incomplete: {rejected} deliveries rejected, {stats.get('waiting', 0)} waiting, "
                      f"{dead} dead letters[/red]")
        raise SystemExit(1)
    return base_url, secret


def _print_summary(stream: Stream, result: ReplayResult, stats: dict) -> None:
    planted = sum(1 for event in stream.events if event.duplicate_of is not None)
    table = Table(title="This run", show_header=False)
    table.add_row("deliveries sent", str(result.sent))
    table.add_row("stored (new)", str(result.stored))
    table.add_row("duplicates absorbed", f"{result.duplicates} ({planted} redeliveries planted in the stream)")
    table.add_row("rejected", str(sum(n for code, n in result.by_status.items() if code != 200)))
    table.add_row("throughput", f"{result.sent / result.elapsed_s:,.0f} deliveries/s "
                                f"({result.elapsed_s:.2f} s)")
    console.print(table)
    if result.errors:
        console.print("[red]errors:[/red] " + "; ".join(result.errors))
        if any(error.startswith("401") for error in result.errors):
            console.print("the running API uses another META_APP_SECRET: `make stop`, then `make demo` again")
    if result.stored == 0 and result.duplicates == result.sent:
        console.print("[yellow]this stream was replayed before: everything was absorbed as a duplicate. "
                      "Run `crm demo --seed N` for a new one.[/yellow]")

    totals = Table(title="In the CRM now")
    totals.add_column("what")
    totals.add_column("count", justify="right")
    totals.add_row("contacts", str(stats["contacts"]))
    for status, count in sorted(stats["conversations_by_status"].items()):
        totals.add_row(f"conversations ({status})", str(count))
    for channel, count in sorted(stats["messages_by_channel"].items()):
        totals.add_row(f"messages on {channel}", str(count))
    totals.add_row("delivery statuses", str(stats["statuses"]))
    totals.add_row("social comments", str(stats["comments"]))
    totals.add_row("lead-ad submissions", str(stats["lead_ads"]))
    for status, count in sorted(stats["raw_events_by_status"].items()):
        totals.add_row(f"webhook events {status}", str(count))
    console.print(totals)
    understood = Table(title="What the CRM understood (local models)")
    understood.add_column("what")
    understood.add_column("count", justify="right")
    for intent, count in sorted(stats["intents"].items(), key=lambda item: -item[1]):
        understood.add_row(f"intent {intent}", str(count))
    for category in ("hot", "warm", "cold"):
        understood.add_row(f"{category} leads", str(stats["contacts_by_lead_category"].get(category, 0)))
    for route, count in sorted(stats["conversations_by_route"].items(), key=lambda item: -item[1]):
        if route != "None":
            understood.add_row(f"conversations routed to {route}", str(count))
    for status, count in sorted(stats["outbound_by_status"].items()):
        understood.add_row(f"replies {status} (Graph sandbox)", str(count))
    if stats["average_sentiment"] is not None:
        understood.add_row("average sentiment (-1..1)", f"{stats['average_sentiment']:+.2f}")
    console.print(understood)
    if stats.get("waiting"):
        console.print(f"[yellow]{stats['waiting']} events still wait for the worker (see .run/worker.log)")
    console.print("Explore: `crm events list`, `crm apikey create --name me --scope admin` then "
                  "GET /api/v1/events/stats; stop everything with `make stop`.")


def _print_outcomes(outcomes: dict) -> None:
    table = Table(title="How the agent did in this run", show_header=False)
    table.add_row("conversations with a customer message", str(outcomes["conversations"]))
    table.add_row("messages sent (replies, handoff notices, surveys)", str(outcomes["replies_sent"]))
    table.add_row("escalations to a person (tickets)", str(outcomes["escalations"]))
    rate = outcomes["autonomous_resolution_rate"]
    table.add_row("autonomous-resolution rate", f"{rate:.0%} (answered by the bot, never escalated)"
                  if rate is not None else "-")
    table.add_row("draft orders taken in chat", str(outcomes["draft_orders"]))
    if outcomes["p95_ms"] is not None:
        table.add_row("inbound → reply handed to Graph", f"p50 {outcomes['p50_ms']:,.0f} ms, "
                                                         f"p95 {outcomes['p95_ms']:,.0f} ms")
    console.print(table)
    console.print("Agents: `crm agents list`; escalated conversations: GET /api/v1/conversations?status=human "
                  "(an `agent` key: `crm apikey create --name me --scope agent --agent ID`).")
