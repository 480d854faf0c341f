"""The fallback chain and the cascade: who answers, what is recorded, and that hooks cannot break answers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ml.llm.base import Analyzer, LlmCallRecord, ProviderServerError, ProviderTimeout
from ml.llm.chain import AnalyzerChain
from ml.llm.pricing import estimate_cost
from ml.nlu.types import Entities, IntentResult, LeadScore, SentimentResult
from tests.unit.llm.replay import CASES, INTENT_JSON, LEAD_JSON, SENTIMENT_JSON, Replay

OPENAI, ANTHROPIC, GEMINI = CASES


@dataclass
class FakeLocal:
    """The offline models, reduced to fixed answers with a chosen confidence."""

    confidence: float = 0.9
    fail: bool = False
    name: str = "local"
    model: str = "nlu-local-v1"
    calls: list[str] = field(default_factory=list)

    async def detect_intent(self, text: str, context: dict | None = None) -> IntentResult:
        self._called("intent")
        return IntentResult(primary_intent="general_inquiry", confidence=self.confidence, entities=Entities())

    async def analyze_sentiment(self, text: str, context: dict | None = None) -> SentimentResult:
        self._called("sentiment")
        return SentimentResult(sentiment="neutral", score=0.0, confidence=self.confidence)

    async def classify_lead(self, text: str, context: dict | None = None) -> LeadScore:
        self._called("lead")
        return LeadScore(score=40, category="cold", reasoning="pocas señales",
                         recommended_action="add_to_nurturing")

    def _called(self, task: str) -> None:
        self.calls.append(task)
        if self.fail:
            raise RuntimeError("local model file missing")


@dataclass
class FailingProvider:
    """A provider that always fails the given way (no usage reporting: exercises the plain Analyzer path)."""

    name: str
    error: Exception
    calls: int = 0

    async def _fail(self, *args: object) -> None:
        self.calls += 1
        raise self.error

    detect_intent = analyze_sentiment = classify_lead = _fail  # type: ignore[assignment]


class Collector:
    def __init__(self) -> None:
        self.records: list[LlmCallRecord] = []

    async def __call__(self, record: LlmCallRecord) -> None:
        self.records.append(record)


def _is_analyzer(obj: Analyzer) -> Analyzer:
    return obj


async def test_first_provider_fails_second_answers() -> None:
    broken = OPENAI.build(Replay([OPENAI.error(500)]), max_retries=1)
    working = ANTHROPIC.build(Replay([ANTHROPIC.ok(INTENT_JSON)]))
    local = FakeLocal()
    hook = Collector()
    chain = AnalyzerChain([broken, working], local=local, mode="chain", on_call=hook)

    answer = await chain.detect_intent("Necesito 10 laptops para mañana")

    assert answer.result.primary_intent == "purchase_inquiry"
    assert (answer.provider, answer.model) == ("anthropic", "claude-sonnet-4-6")
    assert [(r.provider, r.outcome) for r in answer.records] == [
        ("openai", "server_error"), ("anthropic", "ok")]
    assert answer.records[0].error and "500" in answer.records[0].error
    assert local.calls == []
    assert hook.records == answer.records
    assert answer.latency_ms >= max(r.latency_ms for r in answer.records)


async def test_all_providers_fail_then_local_answers() -> None:
    first = FailingProvider("openai", ProviderTimeout("slow"))
    second = GEMINI.build(Replay([GEMINI.error(429)]), max_retries=0)
    local = FakeLocal(confidence=0.3)
    chain = AnalyzerChain([first, second], local=local, mode="chain")

    answer = await chain.analyze_sentiment("ok")

    assert answer.result.sentiment == "neutral"
    assert (answer.provider, answer.model) == ("local", "nlu-local-v1")
    assert [(r.provider, r.outcome) for r in answer.records] == [
        ("openai", "timeout"), ("gemini", "rate_limited"), ("local", "ok")]
    assert local.calls == ["sentiment"]


async def test_no_providers_means_local_answers() -> None:
    answer = await AnalyzerChain([], local=FakeLocal()).classify_lead("hola")

    assert answer.provider == "local"
    assert answer.result.category == "cold"
    assert [r.outcome for r in answer.records] == ["ok"]


async def test_unexpected_exception_is_recorded_as_error_and_skipped() -> None:
    weird = FailingProvider("openai", KeyError("boom"))
    answer = await AnalyzerChain([weird], local=FakeLocal()).detect_intent("hola")

    assert answer.provider == "local"
    assert answer.records[0].outcome == "error" and "KeyError" in (answer.records[0].error or "")


async def test_local_failure_surfaces_when_nothing_else_answers() -> None:
    down = FailingProvider("openai", ProviderServerError("down"))
    chain = AnalyzerChain([down], local=FakeLocal(fail=True))

    with pytest.raises(RuntimeError, match="local model file missing"):
        await chain.detect_intent("hola")


async def test_cascade_skips_the_llm_when_local_is_confident() -> None:
    replay = Replay([OPENAI.ok(INTENT_JSON)])
    hook = Collector()
    chain = AnalyzerChain([OPENAI.build(replay)], local=FakeLocal(confidence=0.9), mode="cascade",
                          cascade_threshold=0.75, on_call=hook)

    answer = await chain.detect_intent("hola, a qué hora abren?")

    assert answer.provider == "local"
    assert answer.result.primary_intent == "general_inquiry"
    assert replay.requests == []
    assert [(r.provider, r.outcome) for r in hook.records] == [("local", "skipped_confident_local")]


async def test_cascade_asks_the_llm_when_local_is_unsure() -> None:
    replay = Replay([OPENAI.ok(SENTIMENT_JSON)])
    local = FakeLocal(confidence=0.5)
    chain = AnalyzerChain([OPENAI.build(replay)], local=local, mode="cascade", cascade_threshold=0.75)

    answer = await chain.analyze_sentiment("llegó defectuoso, quiero reembolso")

    assert answer.provider == "openai"
    assert answer.result.sentiment == "negative"
    assert len(replay.requests) == 1
    assert [(r.provider, r.outcome) for r in answer.records] == [("local", "ok"), ("openai", "ok")]
    assert local.calls == ["sentiment"]  # asked once, not again as the fallback


async def test_cascade_falls_back_to_the_local_answer_when_llms_fail() -> None:
    local = FakeLocal(confidence=0.2)
    chain = AnalyzerChain([FailingProvider("anthropic", ProviderServerError("overloaded"))], local=local,
                          mode="cascade")

    answer = await chain.detect_intent("mmm")

    assert answer.provider == "local" and answer.result.confidence == 0.2
    assert [r.outcome for r in answer.records] == ["ok", "server_error"]
    assert local.calls == ["intent"]


@pytest.mark.parametrize(("local_confidence", "asks_llm"), [(None, False), (0.9, False), (0.4, True)])
async def test_cascade_lead_uses_the_intent_confidence_hint(
    local_confidence: float | None, asks_llm: bool,
) -> None:
    replay = Replay([GEMINI.ok(LEAD_JSON)])
    chain = AnalyzerChain([GEMINI.build(replay)], local=FakeLocal(), mode="cascade", cascade_threshold=0.75)
    context = {} if local_confidence is None else {"local_confidence": local_confidence}

    answer = await chain.classify_lead("necesito 500 unidades urgente", context)

    assert (len(replay.requests) == 1) is asks_llm
    assert answer.provider == ("gemini" if asks_llm else "local")
    assert answer.result.score == (87 if asks_llm else 40)


async def test_on_call_gets_one_record_per_call_with_tokens_and_cost() -> None:
    hook = Collector()
    # Schema-violating twice (answer and repair): invalid output.
    openai = OPENAI.build(Replay([OPENAI.ok("{}"), OPENAI.ok("{}")]))
    anthropic = ANTHROPIC.build(Replay([ANTHROPIC.ok(LEAD_JSON)]))
    chain = AnalyzerChain([openai, anthropic], local=FakeLocal(), on_call=hook)

    answer = await chain.classify_lead("soy dueño, necesito 500 unidades urgente")

    assert hook.records == answer.records
    failed, ok = hook.records
    assert (failed.task, failed.provider, failed.model, failed.outcome) == ("lead", "openai", "gpt-5-mini",
                                                                             "invalid_output")
    assert (failed.input_tokens, failed.output_tokens) == (2400, 300)  # the answer and its repair
    assert failed.estimated_cost_usd == estimate_cost("gpt-5-mini", 2400, 300)
    assert (ok.task, ok.provider, ok.model, ok.outcome, ok.error) == (
        "lead", "anthropic", "claude-sonnet-4-6", "ok", None)
    assert (ok.input_tokens, ok.output_tokens) == (1100, 180)
    assert ok.estimated_cost_usd == pytest.approx((1100 * 3 + 180 * 15) / 1e6)
    assert all(r.latency_ms > 0 for r in hook.records)


async def test_failing_hook_does_not_break_the_answer() -> None:
    def sync_hook(record: LlmCallRecord) -> None:
        raise ConnectionError("database is down")

    async def async_hook(record: LlmCallRecord) -> None:
        raise ConnectionError("database is down")

    for hook in (sync_hook, async_hook):
        replay = Replay([OPENAI.ok(INTENT_JSON)])
        chain = AnalyzerChain([OPENAI.build(replay)], local=FakeLocal(), on_call=hook)
        answer = await chain.detect_intent("quiero comprar")
        assert answer.provider == "openai"
        assert [r.outcome for r in answer.records] == ["ok"]


async def test_adapters_and_fakes_satisfy_the_analyzer_protocol() -> None:
    for obj in (FakeLocal(), OPENAI.build(Replay([])), ANTHROPIC.build(Replay([])), GEMINI.build(Replay([]))):
        assert _is_analyzer(obj) is obj
        assert callable(obj.detect_intent) and callable(obj.analyze_sentiment) and callable(obj.classify_lead)


def test_mode_is_checked() -> None:
    with pytest.raises(ValueError):
        AnalyzerChain([], local=FakeLocal(), mode="parallel")  # type: ignore[arg-type]
