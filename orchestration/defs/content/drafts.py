"""Flow 14: the week's post drafts from the catalog, written to `crm.content_posts`.

`generate_drafts` is the whole job as a plain function (the asset and `crm content generate` both call it): read
the active products, recent sales and recent posts; plan the week (ml.content); write captions only for the posts
the week does not have yet (the LLM providers when configured, else the templates); insert them with
`generation_key` = gen:<week monday>:<kind>:<product id> and ON CONFLICT DO NOTHING, so proposing the same week
again adds nothing and the week never holds more than CONTENT_POSTS_PER_WEEK generated posts.
(No `from __future__ import annotations`: Dagster reads the config class from the annotations.)
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import structlog
from psycopg.rows import dict_row

from orchestration.defs.resources import WarehouseResource

PRODUCTS_SQL = ("SELECT id, sku, name, description, price, currency, stock, category, attributes, created_at "
                "FROM crm.products WHERE active ORDER BY id")
# Units sold in the 30 days before the week starts (paid orders only), for the best sellers.
UNITS_SOLD_SQL = """
SELECT l.product_id, sum(l.quantity)::int AS units
FROM crm.order_lines l JOIN crm.orders o ON o.id = l.order_id
WHERE l.product_id IS NOT NULL AND o.status IN ('paid', 'shipped', 'delivered')
  AND coalesce(o.placed_at, o.created_at) >= %(since)s AND coalesce(o.placed_at, o.created_at) < %(until)s
GROUP BY l.product_id
"""
# Products with a post in the three weeks before this one: they go to the back of the queue.
RECENTLY_POSTED_SQL = """
SELECT DISTINCT p.value::bigint
FROM crm.content_posts c, jsonb_array_elements_text(c.product_ids) AS p(value)
WHERE c.scheduled_at >= %(since)s AND c.scheduled_at < %(until)s
"""
WEEK_KEYS_SQL = "SELECT generation_key FROM crm.content_posts WHERE generation_key LIKE %(prefix)s"
INSERT_SQL = """
INSERT INTO crm.content_posts (body, media_url, channels, scheduled_at, status, source, generation_key, language,
                               product_ids, approved_by, approved_at)
VALUES (%(body)s, %(media_url)s, %(channels)s, %(scheduled_at)s, %(status)s, 'generator', %(key)s, %(language)s,
        %(product_ids)s, %(approved_by)s, %(approved_at)s)
ON CONFLICT (generation_key) DO NOTHING
RETURNING id
"""
LLM_CALL_SQL = """
INSERT INTO crm.llm_calls (task, provider, model, latency_ms, input_tokens, output_tokens, estimated_cost_usd,
                           outcome, error)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
AUTO_APPROVER = "auto-publish"
SALES_WINDOW = timedelta(days=30)
RECENT_WINDOW = timedelta(days=21)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GenerationOptions:
    monday: date  # the week proposed
    timezone: str = "America/Panama"
    per_week: int = 3
    post_hour: int = 18
    channels: tuple[str, ...] = ("facebook", "instagram")
    language: str = "es"
    brand_voice: str = ""
    hashtags: tuple[str, ...] = ()
    auto_approve: bool = False

    @classmethod
    def from_settings(cls, settings: Any, monday: date, auto_approve: bool | None = None) -> "GenerationOptions":
        return cls(monday=monday, timezone=settings.business_timezone, per_week=settings.content_posts_per_week,
                   post_hour=settings.content_post_hour, channels=tuple(settings.content_channels),
                   language=settings.content_language, brand_voice=settings.content_brand_voice,
                   hashtags=tuple(settings.content_hashtags),
                   auto_approve=settings.content_auto_publish if auto_approve is None else auto_approve)


@dataclass(frozen=True)
class AddedPost:
    id: int
    scheduled_at: datetime
    channels: tuple[str, ...]
    body: str
    kind: str
    product_id: int
    written_by: str


@dataclass
class GenerationReport:
    monday: date
    proposed: int
    status: str
    added: list[AddedPost] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        return len(self.added)

    @property
    def already(self) -> int:
        """Proposed but not added: in the calendar already (or the week already had its posts)."""
        return self.proposed - self.inserted

    def written_by(self) -> dict[str, int]:
        counts = Counter(post.written_by for post in self.added)
        return {"llm": counts["llm"], "template": counts["template"]}


def target_monday(now: datetime, timezone: str, *, current_week: bool = False, week_of: date | None = None) -> date:
    """The week to propose: the one holding `week_of`, else this week or (default) the next, in local time."""
    from ml.content.plan import monday_of, next_monday

    if week_of is not None:
        return monday_of(week_of)
    today = now.astimezone(ZoneInfo(timezone)).date()
    return monday_of(today) if current_week else next_monday(today)


def writer_from_settings(settings: Any) -> Any:
    """The caption writer for LLM_PROVIDERS (templates only with the default `local`)."""
    from ml.content.writer import build_caption_writer

    return build_caption_writer(
        settings.llm_providers,
        keys={"openai": settings.openai_api_key, "anthropic": settings.anthropic_api_key,
              "gemini": settings.gemini_api_key},
        models={"openai": settings.openai_model, "anthropic": settings.anthropic_model,
                "gemini": settings.gemini_model},
        timeout_s=settings.llm_timeout_s, max_retries=settings.llm_max_retries)


def generate_drafts(conn: psycopg.Connection, options: GenerationOptions, writer: Any,
                    now: datetime) -> GenerationReport:
    """Plan the week, write the missing posts' captions, insert them; returns what was proposed and added."""
    from ml.content.captions import CaptionRequest, language_of
    from ml.content.plan import plan_week
    from ml.content.products import CatalogProduct
    from ml.content.writer import write_all_sync

    zone = ZoneInfo(options.timezone)
    week_start = datetime.combine(options.monday, time(), tzinfo=zone)
    prefix = f"gen:{options.monday.isoformat()}:%"
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        products = [CatalogProduct.from_row(row) for row in cursor.execute(PRODUCTS_SQL).fetchall()]
        window = {"since": week_start - SALES_WINDOW, "until": week_start}
        units = {row["product_id"]: row["units"] for row in cursor.execute(UNITS_SOLD_SQL, window).fetchall()}
        recent = {row["value"] for row in cursor.execute(
            RECENTLY_POSTED_SQL, {"since": week_start - RECENT_WINDOW, "until": week_start}).fetchall()}
        existing = {row["generation_key"] for row in cursor.execute(WEEK_KEYS_SQL, {"prefix": prefix}).fetchall()}

    language = language_of(options.language)
    plan = plan_week(products, monday=options.monday, per_week=options.per_week, post_hour=options.post_hour,
                     timezone=options.timezone, channels=options.channels, language=language, units_sold=units,
                     recently_posted=recent, not_before=now)
    room = max(0, options.per_week - len(existing))
    todo = [post for post in plan if post.key not in existing][:room]
    requests = [CaptionRequest(product=post.product, kind=post.kind, language=language,
                               brand_voice=options.brand_voice, hashtags=options.hashtags, seed=post.key)
                for post in todo]
    captions = write_all_sync(writer, requests)

    status = "approved" if options.auto_approve else "draft"
    report = GenerationReport(options.monday, len(plan), status)
    with conn.transaction():
        # One generator at a time per week, so two runs cannot both fill the week's last slot.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"content_drafts:{options.monday}",))
        taken = len(conn.execute(WEEK_KEYS_SQL, {"prefix": prefix}).fetchall())
        for post, caption in zip(todo, captions, strict=True):
            if taken >= options.per_week:
                break
            row = conn.execute(INSERT_SQL, {
                "body": caption.text, "media_url": post.media_url, "channels": json.dumps(list(post.channels)),
                "scheduled_at": post.scheduled_at, "status": status, "key": post.key, "language": language,
                "product_ids": json.dumps([post.product.id]),
                "approved_by": AUTO_APPROVER if options.auto_approve else None,
                "approved_at": now if options.auto_approve else None}).fetchone()
            if row is not None:
                taken += 1
                report.added.append(AddedPost(row[0], post.scheduled_at, post.channels, caption.text, post.kind,
                                              post.product.id, caption.written_by))
        calls = [(r.task, r.provider, r.model, r.latency_ms, r.input_tokens, r.output_tokens,
                  r.estimated_cost_usd, r.outcome, r.error) for caption in captions for r in caption.records]
        if calls:
            with conn.cursor() as cursor:
                cursor.executemany(LLM_CALL_SQL, calls)
    log.info("content_drafts_generated", week=options.monday.isoformat(), proposed=report.proposed,
             inserted=report.inserted, status=status, **report.written_by())
    return report


def generate_for_database(database_url: str, settings: Any, *, week_of: date | None = None,
                          current_week: bool = False, auto_approve: bool | None = None,
                          now: datetime | None = None) -> GenerationReport:
    """`generate_drafts` on a database URL with the settings' options (the CLI's entry point)."""
    from crm.db.urls import plain_url

    now = now or datetime.now(UTC)
    monday = target_monday(now, settings.business_timezone, current_week=current_week, week_of=week_of)
    options = GenerationOptions.from_settings(settings, monday, auto_approve)
    with psycopg.connect(plain_url(database_url)) as conn:
        return generate_drafts(conn, options, writer_from_settings(settings), now)


class ContentDraftsConfig(dg.Config):
    current_week: bool = False  # propose this week (the days still ahead) instead of the next one
    week_of: str | None = None  # YYYY-MM-DD, any day of the week to propose; wins over current_week


@dg.asset(deps=[dg.AssetKey(["crm", "products"]), dg.AssetKey(["crm", "orders"]), dg.AssetKey(["crm", "order_lines"])],
          group_name="content",
          kinds={"postgres"})
def content_drafts(context: dg.AssetExecutionContext, config: ContentDraftsConfig,
                   warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The coming week's posts from the catalog (new products, promotions, last units, best sellers), as drafts
    in `crm.content_posts` awaiting approval, or approved when CONTENT_AUTO_PUBLISH is on."""
    from crm.settings import get_settings

    settings = get_settings()
    now = datetime.now(UTC)
    week_of = date.fromisoformat(config.week_of) if config.week_of else None
    monday = target_monday(now, settings.business_timezone, current_week=config.current_week, week_of=week_of)
    with warehouse.connect() as conn:
        report = generate_drafts(conn, GenerationOptions.from_settings(settings, monday),
                                 writer_from_settings(settings), now)
    context.log.info(f"week of {monday}: {report.proposed} proposed, {report.inserted} new")
    written = report.written_by()
    return dg.MaterializeResult(metadata={
        "week": monday.isoformat(), "proposed": report.proposed, "inserted": report.inserted,
        "already_in_calendar": report.already, "status": report.status,
        "written_by_llm": written["llm"], "written_by_template": written["template"],
        "post_ids": dg.MetadataValue.json([post.id for post in report.added])})


def _business_timezone() -> str:
    from crm.settings import get_settings

    return get_settings().business_timezone


content_job = dg.define_asset_job("content_job", selection=dg.AssetSelection.assets(content_drafts),
                                  description="Proposes the coming week's posts from the catalog.")

content_drafts_schedule = dg.ScheduleDefinition(
    name="content_drafts_schedule", job=content_job, cron_schedule="0 6 * * 1",
    execution_timezone=_business_timezone(), default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays at 06:00 (business time zone): the next week's drafts, ready for approval.")
