"""Products, policies and FAQs: loading them (CSV, YAML, JSON) and finding the right ones for a question.

Retrieval ranks by PostgreSQL full-text search in both Spanish and English configurations plus trigram similarity
on the name, so "laptop para programar", "audifonos" (no accent) and "iphne" all find their products.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Boolean, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Policy, Product
from serving.schemas.catalog import ProductIn

CSV_COLUMNS = ("sku", "name", "description", "price", "currency", "stock", "category", "attributes")
REQUIRED_POLICY_KEYS = ("shipping",)


class CatalogInputError(ValueError):
    """Input that cannot be imported; `problems` lists every one, with its row or key."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems[:10]) + (f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""))
        self.problems = problems


@dataclass
class UpsertCounts:
    created: int
    updated: int
    skus: list[str]


def parse_products_csv(content: str) -> list[ProductIn]:
    """Validate every row first: a file with a bad row imports nothing, and every bad row is reported."""
    reader = csv.DictReader(io.StringIO(content))
    missing = [c for c in ("sku", "name", "price") if c not in (reader.fieldnames or [])]
    if missing:
        raise CatalogInputError([f"missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"])
    products, problems, seen = [], [], set()
    for line, row in enumerate(reader, start=2):
        values: dict[str, Any] = {k: v for k, v in row.items() if k in CSV_COLUMNS and v is not None}
        try:
            attributes = values.get("attributes") or "{}"
            values["attributes"] = json.loads(attributes) if isinstance(attributes, str) else attributes
            if not isinstance(values["attributes"], dict):
                raise ValueError("attributes must be a JSON object")
            if values.get("stock", "") == "":
                values.pop("stock", None)
            if values.get("currency", "") == "":
                values.pop("currency", None)
            product = ProductIn(**values)
        except (ValidationError, ValueError) as exc:
            problems.append(f"line {line}: {_explain(exc)}")
            continue
        if product.sku in seen:
            problems.append(f"line {line}: sku {product.sku} appears twice")
            continue
        seen.add(product.sku)
        products.append(product)
    if problems:
        raise CatalogInputError(problems)
    return products


def _explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return str(exc)


async def upsert_products(session: AsyncSession, products: Sequence[ProductIn]) -> UpsertCounts:
    """Insert or update by sku, in one statement; returns how many were new."""
    if not products:
        return UpsertCounts(0, 0, [])
    rows = [p.model_dump() for p in products]
    statement = insert(Product).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[Product.sku],
        set_={column: statement.excluded[column] for column in
              ("name", "description", "price", "currency", "stock", "category", "attributes", "active")}
        | {"updated_at": func.now()},
    ).returning(Product.sku, text("(xmax = 0) AS inserted"))
    result = (await session.execute(statement)).all()
    created = sum(1 for _, inserted in result if inserted)
    return UpsertCounts(created=created, updated=len(result) - created, skus=[sku for sku, _ in result])


def parse_policies_yaml(content: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise CatalogInputError([f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise CatalogInputError(["the policies file must be a mapping of keys (shipping, returns, ...)"])
    problems = [f"missing key {key!r}" for key in REQUIRED_POLICY_KEYS if key not in data]
    for index, option in enumerate(data.get("shipping") or []):
        if not isinstance(option, dict) or "name" not in option or "price" not in option:
            problems.append(f"shipping[{index}] needs name and price (and usually delay)")
        elif not isinstance(option["price"], (int, float)) or option["price"] < 0:
            problems.append(f"shipping[{index}].price must be a number >= 0")
    if problems:
        raise CatalogInputError(problems)
    return {str(key): value for key, value in data.items()}


async def replace_policies(session: AsyncSession, policies: dict[str, Any]) -> list[str]:
    for key, value in policies.items():
        await session.execute(
            insert(Policy).values(key=key, value=value)
            .on_conflict_do_update(index_elements=[Policy.key], set_={"value": value, "updated_at": func.now()})
        )
    return sorted(policies)


async def get_policies(session: AsyncSession) -> dict[str, Any]:
    return {key: value for key, value in (await session.execute(select(Policy.key, Policy.value))).all()}


async def search_products(session: AsyncSession, query: str, limit: int = 5,
                          in_stock_only: bool = False) -> list[tuple[Product, float]]:
    """Products for a free-text question, best first: full-text rank (Spanish and English) + name similarity."""
    spanish, english = _any_word_query("spanish", query), _any_word_query("english", query)
    columns = Product.__table__.c
    relevance = (
        func.ts_rank(columns.search_spanish, spanish) + func.ts_rank(columns.search_english, english)
        + func.word_similarity(func.lower(query), func.lower(Product.name))
    ).label("relevance")
    conditions = [columns.search_spanish.op("@@", return_type=Boolean)(spanish),
                  columns.search_english.op("@@", return_type=Boolean)(english)]
    if len(query.strip()) >= 4:  # trigram similarity of a very short word matches almost anything
        conditions.append(func.word_similarity(func.lower(query), func.lower(Product.name)) > 0.4)
    matched = or_(*conditions)
    statement = select(Product, relevance).where(Product.active.is_(True), matched)
    if in_stock_only:
        statement = statement.where(Product.stock > 0)
    rows = (await session.execute(statement.order_by(relevance.desc(), Product.price).limit(limit))).all()
    return [(product, float(score)) for product, score in rows]


def _any_word_query(config: str, query: str) -> Any:
    """A tsquery matching any of the question's words (stemmed, stop words dropped): customers describe what they
    want in many words, and a product that matches some of them should still rank."""
    lexemes = func.tsvector_to_array(func.to_tsvector(config, query))
    return func.to_tsquery("simple", func.array_to_string(lexemes, " | "))


def read_text(path: Path) -> str:
    if not path.exists():
        raise CatalogInputError([f"{path} does not exist"])
    return path.read_text(encoding="utf-8-sig")


def skus(products: Iterable[ProductIn]) -> list[str]:
    return [p.sku for p in products]
