"""The three adapters against replayed provider responses: answers, retries, timeouts and bad output."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest

from ml.llm.base import (
    ProviderError,
    ProviderInvalidOutput,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
)
from ml.llm.pricing import estimate_cost
from ml.nlu.types import IntentResult, LeadScore, SentimentResult
from tests.unit.llm.replay import CASES, INTENT_JSON, LEAD_JSON, SENTIMENT_JSON, ProviderCase, Replay

pytestmark = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])


async def test_intent_answer_is_validated_and_reports_usage(case: ProviderCase) -> None:
    replay = Replay([case.ok(INTENT_JSON)])
    provider = case.build(replay)

    reply = await provider.run_task("intent", "Necesito 10 laptops para mañana, tienen stock?")

    assert isinstance(reply.result, IntentResult)
    assert reply.result.primary_intent == "purchase_inquiry"
    assert reply.result.secondary_intents == ["product_info", "delivery_tracking"]
    assert reply.result.entities.quantities == [10]
    assert (reply.input_tokens, reply.output_tokens) == case.tokens
    assert reply.estimated_cost_usd == estimate_cost(provider.model, *case.tokens)
    assert reply.estimated_cost_usd is not None and reply.estimated_cost_usd > 0
    assert "Necesito 10 laptops para mañana" in case.prompt_of(replay.bodies()[0])
    assert len(replay.requests) == 1


async def test_sentiment_answer(case: ProviderCase) -> None:
    provider = case.build(Replay([case.ok(SENTIMENT_JSON)]))

    result = await provider.analyze_sentiment("Compré hace 2 semanas y llegó defectuoso, quiero reembolso")

    assert isinstance(result, SentimentResult)
    assert (result.sentiment, result.score, result.urgency_level, result.churn_risk) == (
        "negative", -0.78, "high", 80)
    assert result.emotions["frustration"] == 0.82


async def test_lead_answer_with_context(case: ProviderCase) -> None:
    replay = Replay([case.ok(LEAD_JSON)])
    provider = case.build(replay)

    result = await provider.classify_lead(
        "Hola, soy dueño de una empresa y necesito 500 unidades urgente",
        {"name": "Juan Pérez", "previous_interactions": 0, "local_confidence": 0.4},
    )

    assert isinstance(result, LeadScore)
    assert (result.score, result.category) == (87, "hot")
    assert result.recommended_action == "assign_to_sales_immediately"
    assert sum(f.points for f in result.factors) == 87
    prompt = case.prompt_of(replay.bodies()[0])
    assert '"name": "Juan Pérez"' in prompt
    assert "local_confidence" not in prompt  # a hint for the chain, not for the model


async def test_rate_limit_is_retried_then_answers(case: ProviderCase) -> None:
    replay = Replay([case.error(429), case.ok(INTENT_JSON)])
    provider = case.build(replay, max_retries=2)

    result = await provider.detect_intent("precio del combo?")

    assert result.primary_intent == "purchase_inquiry"
    assert len(replay.requests) == 2


async def test_persistent_rate_limit_surfaces_after_retries(case: ProviderCase) -> None:
    replay = Replay([case.error(429)])
    provider = case.build(replay, max_retries=1)

    with pytest.raises(ProviderRateLimited) as caught:
        await provider.detect_intent("hola")

    assert caught.value.status_code == 429
    assert caught.value.outcome == "rate_limited"
    assert len(replay.requests) == 2


async def test_persistent_server_error_surfaces_after_retries(case: ProviderCase) -> None:
    replay = Replay([case.error(500)])
    provider = case.build(replay, max_retries=2)

    with pytest.raises(ProviderServerError) as caught:
        await provider.analyze_sentiment("hola")

    assert caught.value.status_code == 500
    assert caught.value.provider == case.name
    assert len(replay.requests) == 3  # first try + 2 retries


async def test_client_error_is_not_retried(case: ProviderCase) -> None:
    replay = Replay([case.error(400)])
    provider = case.build(replay)

    with pytest.raises(ProviderError) as caught:
        await provider.detect_intent("hola")

    assert type(caught.value) is ProviderError
    assert caught.value.outcome == "error"
    assert len(replay.requests) == 1


async def test_transport_timeout_surfaces_as_timeout_without_retry(case: ProviderCase) -> None:
    replay = Replay([httpx2.ReadTimeout("timed out")])
    provider = case.build(replay)

    with pytest.raises(ProviderTimeout) as caught:
        await provider.classify_lead("necesito 500 unidades")

    assert caught.value.outcome == "timeout"
    assert len(replay.requests) == 1


async def test_slow_answer_hits_the_deadline(case: ProviderCase) -> None:
    async def slow(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(5)
        return case.ok(INTENT_JSON)

    provider = case.build(Replay([slow]), timeout_s=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(ProviderTimeout):
        await provider.detect_intent("hola")

    assert loop.time() - started < 1.0


async def test_invalid_json_is_repaired_once(case: ProviderCase) -> None:
    replay = Replay([case.ok("Claro! Aquí tienes: {primary_intent: compra"), case.ok(INTENT_JSON)])
    provider = case.build(replay)

    reply = await provider.run_task("intent", "quiero comprar")

    assert reply.result.primary_intent == "purchase_inquiry"
    assert len(replay.requests) == 2
    repair_prompt = case.prompt_of(replay.bodies()[1])
    assert "{primary_intent: compra" in repair_prompt and "JSON" in repair_prompt
    assert reply.input_tokens == 2 * case.tokens[0]  # both calls were billed


async def test_schema_violation_after_repair_is_invalid_output(case: ProviderCase) -> None:
    wrong = json.dumps({"primary_intent": "buy_stuff", "confidence": 0.9})
    replay = Replay([case.ok(wrong), case.ok("not json at all")])
    provider = case.build(replay)

    with pytest.raises(ProviderInvalidOutput) as caught:
        await provider.detect_intent("quiero comprar")

    assert caught.value.outcome == "invalid_output"
    assert "primary_intent" in case.prompt_of(replay.bodies()[1])  # the repair named the bad field
    assert len(replay.requests) == 2
    assert caught.value.input_tokens == 2 * case.tokens[0]
    assert caught.value.estimated_cost_usd is not None


async def test_obviously_fixable_output_needs_no_repair(case: ProviderCase) -> None:
    sloppy = json.dumps({"sentiment": "Negativo", "score": -78, "confidence": 92, "urgency_level": "Alta",
                         "churn_risk": 0.85, "emotions": {"Anger": 70}})
    replay = Replay([case.ok(f"```json\n{sloppy}\n```")])
    provider = case.build(replay)

    result = await provider.analyze_sentiment("pésimo servicio")

    assert (result.sentiment, result.score, result.confidence) == ("negative", -0.78, 0.92)
    assert (result.urgency_level, result.churn_risk, result.emotions) == ("high", 85, {"anger": 0.7})
    assert len(replay.requests) == 1
