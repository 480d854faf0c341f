"""Understanding a customer message: the local models by default, LLM providers when configured (fallback
chain or cascade, see ml.llm.chain), and the routing decision that follows. One instance per process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models import LlmCall, Product
from crm.settings import Settings
from ml.nlu.engine import MODEL_NAME, LocalAnalyzer, load_or_train
from ml.nlu.lead import action_for
from ml.nlu.entities import CatalogProduct
from ml.nlu.types import IntentResult, LeadScore, SentimentResult
from serving.services.routing import RoutingDecision, RoutingInput, decide_route

log = structlog.get_logger(__name__)
CATALOG_REFRESH_S = 300.0
TASKS = ("intent", "sentiment", "lead")
SessionsProvider = Callable[[], "async_sessionmaker[AsyncSession] | None"]


@dataclass
class Understood:
    language: str
    intent: IntentResult
    sentiment: SentimentResult
    lead: LeadScore
    routing: RoutingDecision
    models: dict[str, str]  # task -> "local-nlu-v1" or "provider:model"
    processing_time_ms: float

    @property
    def model_used(self) -> str:
        return ",".join(sorted(set(self.models.values())))


class Understanding:
    def __init__(self, local: LocalAnalyzer, chain: Any | None = None, deadline_s: float = 20.0):
        self.local = local
        self.chain = chain
        self.deadline_s = deadline_s
        self._catalog_loaded_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, sessions: SessionsProvider = lambda: None) -> Understanding:
        """`sessions` returns the session factory LLM calls are recorded with (looked up at each call, so the
        process can reopen its database without rebuilding this)."""
        local = load_or_train(settings.nlu_model_dir)
        chain = build_llm_chain(settings, local, sessions) if _llm_configured(settings) else None
        # One deadline for all the LLM work on a message, then the local answer stands.
        return cls(local, chain, deadline_s=settings.llm_timeout_s * 2)

    async def refresh_catalog(self, session: AsyncSession, force: bool = False) -> None:
        """Products mentioned in messages are matched against the catalog; reread it every few minutes."""
        if not force and time.monotonic() - self._catalog_loaded_at < CATALOG_REFRESH_S:
            return
        rows = await session.execute(select(Product.sku, Product.name).where(Product.active.is_(True)))
        self.local.set_catalog([CatalogProduct(sku, name) for sku, name in rows.all()])
        self._catalog_loaded_at = time.monotonic()

    async def understand(self, text: str, sender_metadata: dict | None = None, context: dict | None = None,
                         tasks: tuple[str, ...] = TASKS) -> Understood:
        """Everything about one message. With LLM providers, only `tasks` go to them (an endpoint asks for its
        own), concurrently and under one deadline; the local answer stands in for the rest and on timeout."""
        started = time.perf_counter()
        local = self.local.analyze(text, sender_metadata)
        results: dict[str, Any] = {"intent": local.intent, "sentiment": local.sentiment, "lead": local.lead}
        models = dict.fromkeys(TASKS, MODEL_NAME)
        if self.chain is not None and tasks:
            chain_context = {**(context or {}), "sender_metadata": sender_metadata or {},
                             "language": local.language, "local_confidence": local.intent.confidence}
            answers = await self._ask_chain(text, chain_context, tasks)
            for task, answer in answers.items():
                results[task] = answer.result
                models[task] = _label(answer)
        intent, sentiment, lead = results["intent"], results["sentiment"], results["lead"]
        if models["intent"] != MODEL_NAME and not intent.entities.model_dump(exclude_defaults=True):
            intent = intent.model_copy(update={"entities": local.intent.entities})
        if models["lead"] != MODEL_NAME:  # one vocabulary of actions, whoever scored the lead
            lead = lead.model_copy(update={"recommended_action": action_for(lead.category, intent.primary_intent)})
        routing = decide_route(RoutingInput(
            intent=intent.primary_intent, sentiment=sentiment.sentiment, sentiment_score=sentiment.score,
            churn_risk=sentiment.churn_risk, lead_score=lead.score, secondary_intents=tuple(intent.secondary_intents),
        ))
        return Understood(language=local.language, intent=intent, sentiment=sentiment, lead=lead, routing=routing,
                          models=models, processing_time_ms=round((time.perf_counter() - started) * 1000, 2))


    async def _ask_chain(self, text: str, context: dict, tasks: tuple[str, ...]) -> dict[str, Any]:
        calls = {"intent": self.chain.detect_intent, "sentiment": self.chain.analyze_sentiment,
                 "lead": self.chain.classify_lead}
        try:
            async with asyncio.timeout(self.deadline_s):
                answers = await asyncio.gather(*(calls[task](text, context) for task in tasks))
        except TimeoutError:
            log.warning("understanding.llm_deadline", tasks=list(tasks), deadline_s=self.deadline_s)
            return {}
        return dict(zip(tasks, answers, strict=True))


def _label(answer: Any) -> str:
    return MODEL_NAME if answer.provider == "local" else f"{answer.provider}:{answer.model}"


def _llm_configured(settings: Settings) -> bool:
    keys = {"openai": settings.openai_api_key, "anthropic": settings.anthropic_api_key,
            "gemini": settings.gemini_api_key}
    return any(keys.get(name) for name in settings.llm_providers)


def llm_call_recorder(sessions: SessionsProvider) -> Callable[[Any], Awaitable[None]]:
    """The chain's on_call hook: every provider call (and local stand-in) becomes a row of crm.llm_calls."""

    async def record(call: Any) -> None:
        factory = sessions()
        if factory is None or call.outcome == "skipped_confident_local":  # no call was made: nothing to record
            return
        async with factory() as session:
            session.add(LlmCall(task=call.task, provider=call.provider, model=call.model,
                                latency_ms=call.latency_ms, input_tokens=call.input_tokens,
                                output_tokens=call.output_tokens, estimated_cost_usd=call.estimated_cost_usd,
                                outcome=call.outcome, error=(call.error or None) and str(call.error)[:2000]))
            await session.commit()

    return record


def build_llm_chain(settings: Settings, local: LocalAnalyzer, sessions: SessionsProvider) -> Any:
    from ml.llm.chain import build_chain

    return build_chain(
        provider_names=settings.llm_providers,
        keys={"openai": settings.openai_api_key, "anthropic": settings.anthropic_api_key,
              "gemini": settings.gemini_api_key},
        models={"openai": settings.openai_model, "anthropic": settings.anthropic_model,
                "gemini": settings.gemini_model},
        local=local,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        mode=settings.llm_mode,
        cascade_threshold=settings.llm_cascade_threshold,
        on_call=llm_call_recorder(sessions),
    )
