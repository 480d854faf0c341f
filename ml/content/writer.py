"""Captions through the LLM providers, held to the catalog: the first answer that passes the checks wins, and
the local template writes the caption when none does (no provider configured, a timeout, an error, an answer
that is empty, too long, misses the product's name or states a price, discount or stock figure of its own).

The caller records who wrote each caption (`written_by`) and every provider call made for it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import structlog

from ml.content.captions import (
    MAX_CAPTION_CHARS,
    MAX_HASHTAGS,
    CaptionRequest,
    append_hashtags,
    count_hashtags,
    hashtags_for,
    language_of,
    template_caption,
)
from ml.content.products import money
from ml.llm import prompts
from ml.llm.base import LlmCallRecord, Outcome, ProviderError
from ml.llm.provider import LlmProvider

CAPTION_PROMPT = "content_caption"
CAPTION_TASK = "content_caption"  # crm.llm_calls.task
USER_PROMPT = "Escribe el caption ahora. / Write the caption now."
WrittenBy = Literal["llm", "template"]
KIND_HINTS = {
    "new_product": "producto nuevo en la tienda",
    "promotion": "el producto tiene un precio rebajado (was_price_text → price_text)",
    "back_in_stock": "el producto volvió a estar disponible",
    "low_stock": "quedan pocas unidades",
    "best_seller": "uno de los más vendidos de la tienda",
    "spotlight": "producto destacado de la semana",
}
# "$1,099", "US$ 49.90", "USD 899", "B/. 20", "899 dólares", "€15"
_AMOUNT = r"(\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
_MONEY = re.compile(rf"(?:US\$|\$|€|£|B/\.|\b(?:USD|PAB|EUR|MXN|COP|PEN|CLP|ARS)\b)\s?{_AMOUNT}"
                    rf"|(?<![\w$.,]){_AMOUNT}\s?(?:USD|PAB|EUR|d[óo]lares|dollars|balboas|euros)\b", re.IGNORECASE)
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s?%")
_STOCK = re.compile(r"(?<![\d.,$])(\d+)\s+(?:unidades|unidad|units?|pieces|piezas|en stock|in stock|disponibles?"
                    r"|available|left)\b", re.IGNORECASE)

log = structlog.get_logger(__name__)


@dataclass
class Caption:
    text: str
    written_by: WrittenBy
    provider: str | None = None
    model: str | None = None
    rejected: list[str] = field(default_factory=list)  # why each LLM answer was not used
    records: list[LlmCallRecord] = field(default_factory=list)


class CaptionWriter:
    """Asks the providers in order (each with its own timeout and retries); the template is the last resort."""

    def __init__(self, providers: Sequence[LlmProvider] = ()) -> None:
        self.providers = list(providers)

    async def write(self, request: CaptionRequest) -> Caption:
        records: list[LlmCallRecord] = []
        rejected: list[str] = []
        if self.providers:
            system = build_prompt(request)
            for provider in self.providers:
                started = time.perf_counter()
                try:
                    reply = await provider.complete_json(system, USER_PROMPT)
                except ProviderError as exc:
                    records.append(_record(provider, started, exc.outcome, f"{type(exc).__name__}: {exc}",
                                           (exc.input_tokens, exc.output_tokens, exc.estimated_cost_usd)))
                    rejected.append(f"{provider.name}: {exc.outcome}")
                    continue
                except Exception as exc:  # noqa: BLE001 - an adapter bug costs a template, never the post
                    records.append(_record(provider, started, "error", f"{type(exc).__name__}: {exc}"))
                    rejected.append(f"{provider.name}: error")
                    continue
                tokens = (reply.input_tokens, reply.output_tokens, reply.estimated_cost_usd)
                text = reply.result.get("caption") if isinstance(reply.result, Mapping) else None
                caption = append_hashtags(text.strip(), hashtags_for(request)) if isinstance(text, str) else ""
                problems = check_caption(caption, request) if caption else ["empty answer"]
                if problems:
                    records.append(_record(provider, started, "invalid_output", "; ".join(problems), tokens,
                                           reply.model))
                    rejected.append(f"{provider.name}: {'; '.join(problems)}")
                    log.warning("content_caption_rejected", provider=provider.name, product_id=request.product.id,
                                problems=problems)
                    continue
                records.append(_record(provider, started, "ok", None, tokens, reply.model))
                return Caption(caption, "llm", provider.name, reply.model, rejected, records)
        return Caption(template_caption(request), "template", rejected=rejected, records=records)

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()


def build_prompt(request: CaptionRequest) -> str:
    """The instructions with the brand voice, the language and the product's catalog facts (nothing else)."""
    product = request.product
    facts: dict[str, Any] = {"name": product.name, "description": product.description or "",
                             "category": product.category or "", "price_text": money(product.price, product.currency),
                             "currency": product.currency}
    if request.kind == "promotion" and product.compare_at_price is not None:
        facts["was_price_text"] = money(product.compare_at_price, product.currency)
        facts["discount_percent"] = product.discount_percent
    facts["availability"] = "últimas unidades / last units" if request.kind == "low_stock" else "disponible"
    product_block = json.dumps(facts, ensure_ascii=False, indent=1).replace("</producto>", "</ producto>")
    return prompts.fill(prompts.load(CAPTION_PROMPT), brand_voice=request.brand_voice or "cercana y clara",
                        language=language_of(request.language), kind=request.kind,
                        kind_hint=KIND_HINTS[request.kind], product=product_block,
                        max_chars=str(MAX_CAPTION_CHARS - 300))


def check_caption(caption: str, request: CaptionRequest) -> list[str]:
    """What keeps an LLM caption from being posted (empty list: it may be posted)."""
    product = request.product
    problems = []
    if not caption.strip():
        return ["empty answer"]
    if len(caption) > MAX_CAPTION_CHARS:
        problems.append(f"longer than {MAX_CAPTION_CHARS} characters")
    if count_hashtags(caption) > MAX_HASHTAGS:
        problems.append(f"more than {MAX_HASHTAGS} hashtags")
    if _fold(product.name) not in _fold(caption):
        problems.append(f"does not name {product.name!r}")
    # Figures the catalog's own text states ("100% algodón", "pack de 2 unidades") may be repeated.
    catalog_text = f"{product.name} {product.description or ''}"
    allowed = {product.price} | stated_amounts(catalog_text)
    if request.kind == "promotion" and product.compare_at_price is not None:
        allowed.add(product.compare_at_price)
    problems += [f"price {amount} not in the catalog" for amount in sorted(stated_amounts(caption) - allowed)]
    allowed_percent = stated_percents(catalog_text) - {None}
    if request.kind == "promotion":
        allowed_percent.add(product.discount_percent)
    invented = stated_percents(caption) - allowed_percent
    problems += [f"discount {p if p is not None else '?'}% not in the catalog" for p in
                 sorted(invented, key=lambda p: -1 if p is None else p)]
    catalog_stock = {_fold(m.group(0)) for m in _STOCK.finditer(catalog_text)}
    if any(_fold(m.group(0)) not in catalog_stock for m in _STOCK.finditer(caption)):
        problems.append("states a stock figure")
    return problems


def stated_amounts(text: str) -> set[Decimal]:
    return {parse_amount(next(g for g in m.groups() if g)) for m in _MONEY.finditer(text)}


def stated_percents(text: str) -> set[int | None]:
    found: set[int | None] = set()
    for match in _PERCENT.finditer(text):
        value = Decimal(match.group(1).replace(",", "."))
        found.add(int(value) if value == value.to_integral_value() else None)
    return found


def parse_amount(text: str) -> Decimal:
    """"1,099" and "1.099" are a thousand and ninety-nine; "49.90" and "49,90" are under fifty."""
    separators = [i for i, ch in enumerate(text) if ch in ".,"]
    if not separators:
        return Decimal(text)
    last = separators[-1]
    decimals = len(text) - last - 1
    whole = "".join(ch for ch in text[:last] if ch.isdigit())
    if decimals == 3:  # a thousands separator
        return Decimal(whole + text[last + 1:])
    return Decimal(f"{whole}.{text[last + 1:]}")


def build_caption_writer(provider_names: Sequence[str], keys: Mapping[str, str | None],
                         models: Mapping[str, str | None], timeout_s: float, max_retries: int) -> CaptionWriter:
    """The writer for LLM_PROVIDERS-style settings; with only `local` (the default) it writes templates."""
    from ml.llm.reply_writer import build_providers

    return CaptionWriter(build_providers(provider_names, keys, models, timeout_s, max_retries))


async def write_all(writer: CaptionWriter, requests: Sequence[CaptionRequest]) -> list[Caption]:
    """One caption per request, in order (sequential: a week is a handful of posts and providers rate-limit)."""
    try:
        return [await writer.write(request) for request in requests]
    finally:
        await writer.aclose()


def write_all_sync(writer: CaptionWriter, requests: Sequence[CaptionRequest]) -> list[Caption]:
    return asyncio.run(write_all(writer, requests))


def _record(provider: LlmProvider, started: float, outcome: Outcome, error: str | None,
            tokens: tuple[int | None, int | None, float | None] = (None, None, None),
            model: str | None = None) -> LlmCallRecord:
    return LlmCallRecord(task=CAPTION_TASK,  # type: ignore[arg-type] - the column is free text
                         provider=provider.name, model=model or provider.model,
                         latency_ms=(time.perf_counter() - started) * 1000.0, input_tokens=tokens[0],
                         output_tokens=tokens[1], estimated_cost_usd=tokens[2], outcome=outcome,
                         error=error[:500] if error else None)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[*_`]", "", plain).split())
