"""The week's calendar: which Monday, which days and hours, which channels, and each post's idempotency key.

Posts spread evenly over the week (3 a week: Monday, Wednesday, Friday) at the configured local hour; when the
week has started, only the days still ahead are used. Instagram publishes images, not text, so a product
without an image URL is posted to Facebook only (the calendar's own rule, applied here before it is asked).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ml.content.ideas import Kind, propose_ideas
from ml.content.products import CatalogProduct

CHANNELS = ("facebook", "instagram")
SAME_DAY_GAP = timedelta(hours=2)  # more posts than days: the second one of a day goes out this much later


@dataclass(frozen=True)
class PlannedPost:
    key: str  # gen:<week monday>:<kind>:<product id>, unique in crm.content_posts
    kind: Kind
    product: CatalogProduct
    scheduled_at: datetime
    channels: tuple[str, ...]
    media_url: str | None
    language: str


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def next_monday(day: date) -> date:
    """The Monday after `day` (a week ahead when `day` is a Monday): the week drafts are proposed for."""
    return monday_of(day) + timedelta(days=7)


def generation_key(monday: date, kind: str, product_id: int) -> str:
    return f"gen:{monday.isoformat()}:{kind}:{product_id}"


def week_slots(monday: date, count: int, hour: int, timezone: str,
               not_before: datetime | None = None) -> list[datetime]:
    """Up to `count` posting times in the week, spread over the days whose posting time is after `not_before`."""
    if count <= 0:
        return []
    zone = ZoneInfo(timezone)
    days = [datetime.combine(monday + timedelta(days=i), time(hour=hour), tzinfo=zone) for i in range(7)]
    open_days = [day for day in days if not_before is None or day > not_before]
    if not open_days:
        return []
    count = min(count, len(open_days) * math.ceil(count / 7))
    used: Counter[datetime] = Counter()
    slots = []
    for index in range(count):
        day = open_days[index * len(open_days) // count]
        slots.append(day + used[day] * SAME_DAY_GAP)
        used[day] += 1
    return slots


def channels_for(product: CatalogProduct, configured: Iterable[str]) -> tuple[str, ...]:
    wanted = {c.strip().lower() for c in configured} & set(CHANNELS)
    if product.image_url is None:
        wanted.discard("instagram")
    return tuple(sorted(wanted))


def plan_week(products: Sequence[CatalogProduct], *, monday: date, per_week: int, post_hour: int, timezone: str,
              channels: Sequence[str], language: str, units_sold: Mapping[int, int] | None = None,
              recently_posted: Iterable[int] = (), not_before: datetime | None = None) -> list[PlannedPost]:
    """The week's posts: ideas as of the week's start (so every run of the week agrees), one slot each."""
    slots = week_slots(monday, per_week, post_hour, timezone, not_before)
    as_of = datetime.combine(monday, time(), tzinfo=ZoneInfo(timezone))
    eligible = {p.id for p in products if channels_for(p, channels)}
    ideas = propose_ideas(products, as_of=as_of, limit=len(slots), week_key=monday.isoformat(),
                          units_sold=units_sold, recently_posted=recently_posted, eligible=eligible)
    return [PlannedPost(key=generation_key(monday, idea.kind, idea.product.id), kind=idea.kind,
                        product=idea.product, scheduled_at=slot, channels=channels_for(idea.product, channels),
                        media_url=idea.product.image_url, language=language)
            for idea, slot in zip(ideas, slots, strict=False)]
