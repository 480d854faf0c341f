"""The fallback chain: LLM providers in order, the local models as the last resort, every call recorded.

"chain" mode asks the providers in order and the first valid answer wins. "cascade" mode asks the local
models first and pays for an LLM only when they are unsure (confidence below the threshold). Either way the
local analyzer answers when nothing else can, so understanding never depends on the internet.
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import structlog

from ml.llm.base import (
    Analyzer,
    Answer,
    LlmCallRecord,
    ProviderError,
    ReportingAnalyzer,
    Reply,
    Task,
)
from ml.llm.defaults import DEFAULT_CASCADE_THRESHOLD, DEFAULT_MAX_RETRIES, DEFAULT_MODELS, DEFAULT_TIMEOUT_S
from ml.nlu.types import IntentResult, LeadScore, SentimentResult

Mode = Literal["chain", "cascade"]
CallHook = Callable[[LlmCallRecord], Awaitable[None] | None]
LOCAL = "local"
# Adapter modules are light (their SDKs load on first call), but only the configured ones are imported.
_ADAPTERS = {
    "openai": ("ml.llm.openai_provider", "OpenAIProvider"),
    "anthropic": ("ml.llm.anthropic_provider", "AnthropicProvider"),
    "gemini": ("ml.llm.gemini_provider", "GeminiProvider"),
}
PROVIDER_NAMES = tuple(_ADAPTERS)
_METHODS = {"intent": "detect_intent", "sentiment": "analyze_sentiment", "lead": "classify_lead"}

log = structlog.get_logger(__name__)


class AnalyzerChain:
    """Answers the three tasks with Answer[...] (result + who answered + every call record)."""

    def __init__(
        self,
        providers: Sequence[Analyzer],
        local: Analyzer,
        mode: Mode = "chain",
        cascade_threshold: float = DEFAULT_CASCADE_THRESHOLD,
        on_call: CallHook | None = None,
    ) -> None:
        if mode not in ("chain", "cascade"):
            raise ValueError(f"mode must be 'chain' or 'cascade', not {mode!r}")
        self.providers = list(providers)
        self.local = local
        self.mode = mode
        self.cascade_threshold = cascade_threshold
        self.on_call = on_call

    async def detect_intent(self, text: str, context: dict | None = None) -> Answer[IntentResult]:
        return await self.answer("intent", text, context)

    async def analyze_sentiment(self, text: str, context: dict | None = None) -> Answer[SentimentResult]:
        return await self.answer("sentiment", text, context)

    async def classify_lead(self, text: str, context: dict | None = None) -> Answer[LeadScore]:
        return await self.answer("lead", text, context)

    async def answer(self, task: Task, text: str, context: dict | None = None) -> Answer[Any]:
        """Run the configured strategy; raises only when the local analyzer fails and no provider answered."""
        started = time.perf_counter()
        records: list[LlmCallRecord] = []
        local_reply: Reply[Any] | None = None
        local_error: BaseException | None = None

        if self.mode == "cascade":
            local_reply, record, local_error = await self._invoke(self.local, task, text, context, local=True)
            if local_reply is not None and self._confident(task, local_reply.result, context):
                record.outcome = "skipped_confident_local"
                await self._emit(record, records)
                return self._finish(local_reply, LOCAL, records, started)
            await self._emit(record, records)

        for provider in self.providers:
            reply, record, _ = await self._invoke(provider, task, text, context, local=False)
            await self._emit(record, records)
            if reply is not None:
                return self._finish(reply, record.provider, records, started)

        if self.mode == "chain":
            local_reply, record, local_error = await self._invoke(self.local, task, text, context, local=True)
            await self._emit(record, records)
        if local_reply is not None:
            return self._finish(local_reply, LOCAL, records, started)
        raise local_error or RuntimeError("no analyzer answered")

    def _confident(self, task: Task, result: Any, context: dict | None) -> bool:
        return _confidence(task, result, context) >= self.cascade_threshold

    async def _invoke(
        self, analyzer: Analyzer, task: Task, text: str, context: dict | None, *, local: bool,
    ) -> tuple[Reply[Any] | None, LlmCallRecord, BaseException | None]:
        """Call one analyzer, never raising (except cancellation): the reply or the error, and its record."""
        provider = LOCAL if local else getattr(analyzer, "name", type(analyzer).__name__)
        model = str(getattr(analyzer, "model", None) or getattr(analyzer, "name", provider))
        started = time.perf_counter()
        try:
            if isinstance(analyzer, ReportingAnalyzer):
                reply = await analyzer.run_task(task, text, context)
            else:
                result = await getattr(analyzer, _METHODS[task])(text, context)
                reply = Reply(result=result, model=model, estimated_cost_usd=0.0 if local else None)
        except Exception as exc:
            latency = _ms_since(started)
            is_provider_error = isinstance(exc, ProviderError)
            log.warning("llm_call_failed", task=task, provider=provider, model=model,
                        error_type=type(exc).__name__, latency_ms=round(latency, 1))
            record = LlmCallRecord(
                task=task, provider=provider, model=model, latency_ms=latency,
                input_tokens=exc.input_tokens if is_provider_error else None,
                output_tokens=exc.output_tokens if is_provider_error else None,
                estimated_cost_usd=exc.estimated_cost_usd if is_provider_error else None,
                outcome=exc.outcome if is_provider_error else "error",
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
            return None, record, exc
        record = LlmCallRecord(
            task=task, provider=provider, model=reply.model, latency_ms=_ms_since(started),
            input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
            estimated_cost_usd=reply.estimated_cost_usd, outcome="ok",
        )
        return reply, record, None

    async def _emit(self, record: LlmCallRecord, records: list[LlmCallRecord]) -> None:
        """Keep the record and hand it to the hook; a failing hook is logged and never loses the answer."""
        records.append(record)
        if self.on_call is None:
            return
        try:
            pending = self.on_call(record)
            if inspect.isawaitable(pending):
                await pending
        except Exception:
            log.exception("llm_call_hook_failed", task=record.task, provider=record.provider)

    @staticmethod
    def _finish(
        reply: Reply[Any], provider: str, records: list[LlmCallRecord], started: float,
    ) -> Answer[Any]:
        return Answer(result=reply.result, provider=provider, model=reply.model,
                      latency_ms=_ms_since(started), records=records)


def _confidence(task: Task, result: Any, context: dict | None) -> float:
    """The local answer's confidence; lead scores have none of their own, so the caller may pass one."""
    if task == "lead":
        value = (context or {}).get("local_confidence")
        return 1.0 if value is None else float(value)
    return float(getattr(result, "confidence", 0.0))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def build_chain(
    provider_names: Sequence[str],
    keys: dict[str, str | None],
    models: dict[str, str],
    local: Analyzer,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_retries: int = DEFAULT_MAX_RETRIES,
    mode: Mode = "chain",
    cascade_threshold: float = DEFAULT_CASCADE_THRESHOLD,
    on_call: CallHook | None = None,
    *,
    backoff_base_s: float = 0.5,
) -> AnalyzerChain:
    """The chain for LLM_PROVIDERS-style settings: keyless providers are skipped, "local" is always last.

    `keys` and `models` are keyed by provider name ("openai", "anthropic", "gemini"); a missing model falls
    back to DEFAULT_MODELS. Building imports no SDK: each adapter imports its SDK on its first call.
    """
    providers: list[Analyzer] = []
    seen: set[str] = set()
    for raw in provider_names:
        name = raw.strip().lower()
        if not name or name == LOCAL or name in seen:
            continue
        if name not in PROVIDER_NAMES:
            expected = ", ".join((*PROVIDER_NAMES, LOCAL))
            raise ValueError(f"unknown LLM provider {raw!r}; expected one of {expected}")
        seen.add(name)
        key = keys.get(name)
        if not key:
            log.info("llm_provider_skipped", provider=name, reason="no api key")
            continue
        providers.append(_make_provider(name, key, models.get(name) or DEFAULT_MODELS[name], timeout_s,
                                        max_retries, backoff_base_s))
    return AnalyzerChain(providers, local, mode=mode, cascade_threshold=cascade_threshold, on_call=on_call)


def _make_provider(
    name: str, key: str, model: str, timeout_s: float, max_retries: int, backoff_base_s: float,
) -> Analyzer:
    module_name, class_name = _ADAPTERS[name]
    adapter = getattr(importlib.import_module(module_name), class_name)
    return adapter(key, model, timeout_s, max_retries, backoff_base_s=backoff_base_s)
