"""The agent's reply written by an LLM from retrieved facts (RAG): prompt, provider fallback, call records.

Plain data in (conversation history, the customer's message, the searched products and the policies as dicts),
a draft out. Whether the draft is grounded enough to send is the caller's decision (the serving layer's fact
check, which may ask again with a repair note), so this module never imports the serving layer. Customer
contact details never reach a provider: every request is redacted by the adapters themselves
(ml.llm.redaction, applied in LlmProvider._call: phones, emails, cards and addresses become placeholders that
are restored in the draft, so a reply can repeat the customer's email back), and the words the caller asks to
hide (the customer's names) are replaced by "[nombre]" here.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import structlog

from ml.llm import prompts, redaction
from ml.llm.base import LlmCallRecord, Outcome, ProviderError, Task
from ml.llm.chain import LOCAL, PROVIDER_NAMES, _make_provider
from ml.llm.defaults import DEFAULT_MAX_RETRIES, DEFAULT_MODELS, DEFAULT_TIMEOUT_S
from ml.llm.parsing import OutputError
from ml.llm.provider import LlmProvider

# Stored in crm.llm_calls.task; base.Task names only the three analysis tasks, the column itself is free text.
REPLY_TASK: Task = "reply"
MAX_HISTORY_TURNS = 10
MAX_TURN_CHARS = 1_000
MAX_REPLY_CHARS = 4_096  # a WhatsApp text body's limit
MAX_QUICK_REPLIES = 3
MAX_QUICK_REPLY_CHARS = 20  # a WhatsApp reply button's title limit
CUSTOMER_ROLES = frozenset({"customer", "user", "inbound", "cliente"})
_DELIMITERS = ("contexto", "historial", "mensaje", "borrador")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReplyRequest:
    """Everything the model may know for one turn; `products` and `policies` are the only facts it states."""

    message: str
    products: Sequence[Mapping[str, Any]]
    policies: Mapping[str, Any]
    language: str = "es"
    history: Sequence[tuple[str, str]] = ()  # (role, text), oldest first; role "customer" or "assistant"
    customer: str = ""  # a short summary without name, phone or email
    dialogue: Mapping[str, Any] = field(default_factory=dict)  # budget, need, products already shown...
    redact: Sequence[str] = ()  # words never sent to a provider (the customer's names)


@dataclass(frozen=True)
class Repair:
    """A rejected draft and why, so the second attempt knows what to fix."""

    previous: str
    problems: Sequence[str]


@dataclass
class ReplyDraft:
    text: str
    quick_replies: list[str]
    products: list[str]  # skus the model says it mentioned
    provider: str
    model: str


@dataclass
class WriteResult:
    """The first valid draft (None when every provider failed) and a record of every call made for it."""

    draft: ReplyDraft | None
    records: list[LlmCallRecord] = field(default_factory=list)


class ReplyWriter:
    """Asks the configured providers in order; the first well-formed draft wins."""

    def __init__(self, providers: Sequence[LlmProvider], deadline_s: float = 2 * DEFAULT_TIMEOUT_S,
                 business: str = "la tienda") -> None:
        self.providers = list(providers)
        self.deadline_s = deadline_s  # for all the LLM work on one turn (both attempts); callers enforce it
        self.business = business

    def system_prompt(self) -> str:
        return prompts.fill(prompts.load(prompts.AGENT_REPLY), business=self.business)

    async def write(self, request: ReplyRequest, repair: Repair | None = None, *,
                    deadline: float | None = None) -> WriteResult:
        """One draft; `deadline` (event-loop time) cuts the provider in flight and skips the rest."""
        system, prompt = self.system_prompt(), build_prompt(request, repair)
        loop = asyncio.get_running_loop()
        records: list[LlmCallRecord] = []
        for provider in self.providers:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            started = time.perf_counter()
            try:
                async with asyncio.timeout(remaining):
                    answer = await provider.complete_json(system, prompt)
            except TimeoutError:
                records.append(_record(provider, started, outcome="timeout", error="turn deadline reached"))
                break
            except ProviderError as exc:
                billed = (exc.input_tokens, exc.output_tokens, exc.estimated_cost_usd)
                records.append(_record(provider, started, outcome=exc.outcome, error=_describe(exc),
                                       tokens=billed))
                continue
            except Exception as exc:  # noqa: BLE001 (an adapter bug must not cost the customer their answer)
                records.append(_record(provider, started, outcome="error", error=_describe(exc)))
                continue
            tokens = (answer.input_tokens, answer.output_tokens, answer.estimated_cost_usd)
            try:
                draft = parse_draft(answer.result, provider.name, answer.model)
            except OutputError as exc:
                records.append(_record(provider, started, outcome="invalid_output", error=str(exc),
                                       tokens=tokens, model=answer.model))
                continue
            records.append(_record(provider, started, outcome="ok", tokens=tokens, model=answer.model))
            return WriteResult(draft, records)
        return WriteResult(None, records)

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()


def build_prompt(request: ReplyRequest, repair: Repair | None = None) -> str:
    """The per-turn user prompt: the facts as JSON, the conversation and the message, names masked (contact
    details are redacted when the adapter sends it)."""
    redact = _redactor(request.redact)
    context = {"products": list(request.products), "policies": dict(request.policies)}
    turns = list(request.history)[-MAX_HISTORY_TURNS:]
    history = "\n".join(f"{'Cliente' if role.lower() in CUSTOMER_ROLES else 'Asistente'}: "
                        f"{_enclosed(redact(text[:MAX_TURN_CHARS]))}" for role, text in turns)
    prompt = prompts.fill(
        prompts.load(prompts.AGENT_TURN),
        context=_enclosed(_json(context)),
        customer=_enclosed(redact(request.customer)) or "(sin datos)",
        dialogue=_json(dict(request.dialogue)),
        language=request.language or "es",
        history=history or "(sin mensajes previos)",
        message=_enclosed(redact(request.message[:prompts.MAX_MESSAGE_CHARS])),
    )
    if repair is not None:
        note = prompts.fill(prompts.load(prompts.AGENT_REPAIR),
                            previous=_enclosed(repair.previous[:MAX_REPLY_CHARS]),
                            problems="\n".join(f"- {problem}" for problem in repair.problems))
        prompt = prompt.rstrip() + "\n\n" + note
    return prompt


def parse_draft(data: Mapping[str, Any], provider: str, model: str) -> ReplyDraft:
    """The model's JSON as a draft: a non-empty reply is required; chips and skus are tidied, not rejected."""
    text = data.get("reply")
    if not isinstance(text, str) or not text.strip():
        raise OutputError("reply: expected a non-empty string")
    if len(text) > MAX_REPLY_CHARS:
        raise OutputError(f"reply: longer than {MAX_REPLY_CHARS} characters")
    chips = [chip.strip() for chip in _strings(data.get("quick_replies"))]
    quick_replies = [chip for chip in dict.fromkeys(chips) if 0 < len(chip) <= MAX_QUICK_REPLY_CHARS]
    skus = list(dict.fromkeys(sku.strip() for sku in _strings(data.get("products")) if sku.strip()))
    return ReplyDraft(text.strip(), quick_replies[:MAX_QUICK_REPLIES], skus, provider, model)


def build_providers(
    provider_names: Sequence[str],
    keys: Mapping[str, str | None],
    models: Mapping[str, str | None],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_retries: int = DEFAULT_MAX_RETRIES,
    *,
    backoff_base_s: float = 0.5,
) -> list[LlmProvider]:
    """The adapters for LLM_PROVIDERS in order, built as the analysis chain builds them: `local` and keyless
    ones are skipped (the offline responder is the caller's fallback), an unknown name is a setup error."""
    providers: list[LlmProvider] = []
    for raw in dict.fromkeys(name.strip().lower() for name in provider_names):
        if not raw or raw == LOCAL:
            continue
        if raw not in PROVIDER_NAMES:
            expected = ", ".join((*PROVIDER_NAMES, LOCAL))
            raise ValueError(f"unknown LLM provider {raw!r}; expected one of {expected}")
        key = keys.get(raw)
        if key:
            model = models.get(raw) or DEFAULT_MODELS[raw]
            providers.append(cast(LlmProvider, _make_provider(raw, key, model, timeout_s, max_retries,
                                                              backoff_base_s)))
    return providers


def _record(provider: LlmProvider, started: float, *, outcome: Outcome, error: str | None = None,
            tokens: tuple[int | None, int | None, float | None] = (None, None, None),
            model: str | None = None) -> LlmCallRecord:
    latency = (time.perf_counter() - started) * 1000.0
    if outcome != "ok":
        log.warning("llm_reply_call_failed", provider=provider.name, model=model or provider.model,
                    outcome=outcome, latency_ms=round(latency, 1))
    return LlmCallRecord(task=REPLY_TASK, provider=provider.name, model=model or provider.model,
                         latency_ms=latency, input_tokens=tokens[0], output_tokens=tokens[1],
                         estimated_cost_usd=tokens[2], outcome=outcome, error=error[:500] if error else None)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _redactor(words: Sequence[str]) -> Callable[[str], str]:
    names = sorted({w.strip() for w in words if w and len(w.strip()) >= 3}, key=len, reverse=True)
    alternatives = "|".join(map(re.escape, names))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if names else None

    def redact(text: str) -> str:
        """Names out, except inside contact details ("juan.perez@gmail.com"): the adapter redacts those whole,
        and masking a name in them first would leave the rest of the detail ("perez@gmail.com") to be sent."""
        text = text or ""
        if pattern is None:
            return text
        parts, position = [], 0
        for found in redaction.find(text):
            parts += [pattern.sub("[nombre]", text[position:found.start]), found.value]
            position = found.end
        parts.append(pattern.sub("[nombre]", text[position:]))
        return "".join(parts)

    return redact


def _enclosed(text: str) -> str:
    """A customer's text cannot close the prompt's delimiters and pose as instructions."""
    for tag in _DELIMITERS:
        text = re.sub(rf"</\s*{tag}\s*>", f"</ {tag}>", text, flags=re.IGNORECASE)
    return text


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [item for item in items if isinstance(item, str)]
