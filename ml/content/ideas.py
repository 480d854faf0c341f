"""Which products the week's posts are about, and why (the idea's kind).

Each in-stock product gets at most one idea, its strongest: a promotion, a new arrival, back in stock, last
units, a best seller; anything else may fill the week as a `spotlight`. The week's N ideas take the kinds in
turn (so a week is not three promotions while a new arrival waits), products posted in the last weeks go last,
and the same inputs always give the same ideas: a re-run proposes what the first run proposed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ml.content.products import CatalogProduct

Kind = Literal["promotion", "new_product", "back_in_stock", "low_stock", "best_seller", "spotlight"]
KINDS: tuple[Kind, ...] = ("promotion", "new_product", "back_in_stock", "low_stock", "best_seller", "spotlight")
NEW_FOR = timedelta(days=14)  # a product created this recently is news
RESTOCKED_FOR = timedelta(days=14)
LOW_STOCK_AT = 3  # this many units or fewer: "últimas unidades"
BEST_SELLERS = 3  # the top sellers by units (at least MIN_UNITS_SOLD each) count as best sellers
MIN_UNITS_SOLD = 2


@dataclass(frozen=True)
class Idea:
    kind: Kind
    product: CatalogProduct


def idea_kind(product: CatalogProduct, as_of: datetime, best_sellers: frozenset[int] = frozenset()) -> Kind | None:
    """The strongest reason to post about a product now; None when it cannot be sold (no stock)."""
    if product.stock <= 0:
        return None
    if product.compare_at_price is not None:
        return "promotion"
    if product.created_at is not None and product.created_at >= as_of - NEW_FOR:
        return "new_product"
    restocked = product.restocked_at
    if restocked is not None and as_of - RESTOCKED_FOR <= restocked <= as_of:
        return "back_in_stock"
    if product.stock <= LOW_STOCK_AT:
        return "low_stock"
    if product.id in best_sellers:
        return "best_seller"
    return "spotlight"


def best_seller_ids(units_sold: Mapping[int, int]) -> frozenset[int]:
    ranked = sorted(((units, pid) for pid, units in units_sold.items() if units >= MIN_UNITS_SOLD),
                    key=lambda item: (-item[0], item[1]))
    return frozenset(pid for _, pid in ranked[:BEST_SELLERS])


def propose_ideas(products: Iterable[CatalogProduct], *, as_of: datetime, limit: int, week_key: str,
                  units_sold: Mapping[int, int] | None = None, recently_posted: Iterable[int] = (),
                  eligible: set[int] | None = None) -> list[Idea]:
    """At most `limit` ideas, best first. `week_key` (the week's Monday) rotates the spotlight products from
    week to week; `eligible` (product ids) drops products the caller cannot post (no channel for them)."""
    if limit <= 0:
        return []
    units = dict(units_sold or {})
    best = best_seller_ids(units)
    recent = set(recently_posted)
    by_kind: dict[Kind, list[CatalogProduct]] = {kind: [] for kind in KINDS}
    for product in sorted(products, key=lambda p: p.id):
        if eligible is not None and product.id not in eligible:
            continue
        kind = idea_kind(product, as_of, best)
        if kind is not None:
            by_kind[kind].append(product)
    for kind, items in by_kind.items():
        items.sort(key=_ranking(kind, units, week_key))

    fresh = {kind: [p for p in items if p.id not in recent] for kind, items in by_kind.items()}
    stale = {kind: [p for p in items if p.id in recent] for kind, items in by_kind.items()}
    ideas: list[Idea] = []
    for pool in (fresh, stale):
        ideas += _take_in_turn(pool, limit - len(ideas))
    return ideas


def _take_in_turn(pool: Mapping[Kind, Sequence[CatalogProduct]], limit: int) -> list[Idea]:
    """Round-robin over the news kinds; spotlights only fill what the news leaves empty."""
    news = [(kind, list(pool[kind])) for kind in KINDS if kind != "spotlight"]
    ideas: list[Idea] = []
    while len(ideas) < limit and any(items for _, items in news):
        for kind, items in news:
            if items and len(ideas) < limit:
                ideas.append(Idea(kind, items.pop(0)))
    ideas += [Idea("spotlight", p) for p in pool["spotlight"][:max(0, limit - len(ideas))]]
    return ideas


def _ranking(kind: Kind, units: Mapping[int, int], week_key: str) -> Callable[[CatalogProduct], tuple]:
    """Within a kind: deepest discount, newest, latest restock, fewest units left, most sold; spotlights in an
    order that changes every week but not between runs of the same week."""
    def key(product: CatalogProduct) -> tuple:
        if kind == "promotion":
            return (-(product.discount_percent or 0), product.id)
        if kind == "new_product":
            return (-(product.created_at.timestamp() if product.created_at else 0.0), product.id)
        if kind == "back_in_stock":
            return (-(product.restocked_at.timestamp() if product.restocked_at else 0.0), product.id)
        if kind == "low_stock":
            return (product.stock, product.id)
        if kind == "best_seller":
            return (-units.get(product.id, 0), product.id)
        return (hashlib.sha256(f"{week_key}:{product.id}".encode()).hexdigest(), product.id)

    return key
