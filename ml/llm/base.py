"""The contract every analyzer meets, the records the chain emits, and the errors adapters raise.

Local models and LLM adapters answer the same three questions with the same pydantic types (ml.nlu.types), so
the chain can put any of them in any order and the serving layer never cares who answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from ml.nlu.types import IntentResult, LeadScore, SentimentResult

Task = Literal["intent", "sentiment", "lead", "reply"]
Outcome = Literal[
    "ok", "timeout", "rate_limited", "server_error", "invalid_output", "error", "skipped_confident_local",
]
RESULT_TYPES: dict[str, type[BaseModel]] = {
    "intent": IntentResult, "sentiment": SentimentResult, "lead": LeadScore,
}

T = TypeVar("T")


class Analyzer(Protocol):
    """Anything that understands a customer message: the local models or an LLM adapter."""

    name: str

    async def detect_intent(self, text: str, context: dict | None = None) -> IntentResult: ...

    async def analyze_sentiment(self, text: str, context: dict | None = None) -> SentimentResult: ...

    async def classify_lead(self, text: str, context: dict | None = None) -> LeadScore: ...


@dataclass
class Reply(Generic[T]):
    """One adapter answer plus what it cost, so the chain can record tokens without a side channel."""

    result: T
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated_cost_usd: float | None = None


@runtime_checkable
class ReportingAnalyzer(Protocol):
    """An analyzer that also reports usage (the LLM adapters); the chain prefers `run_task` when present."""

    name: str
    model: str

    async def run_task(self, task: Task, text: str, context: dict | None = None) -> Reply[Any]: ...


@dataclass
class LlmCallRecord:
    """One call made while answering, failed ones included: the row the serving layer stores."""

    task: Task
    provider: str
    model: str
    latency_ms: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated_cost_usd: float | None = None
    outcome: Outcome = "ok"
    error: str | None = None


@dataclass
class Answer(Generic[T]):
    """The chain's result with who produced it and every call it took to get there."""

    result: T
    provider: str
    model: str
    latency_ms: float
    records: list[LlmCallRecord] = field(default_factory=list)


class ProviderError(Exception):
    """An LLM call failed; `outcome` is the record's outcome, tokens are set when the provider billed any."""

    outcome: ClassVar[Outcome] = "error"
    retryable: ClassVar[bool] = False

    def __init__(
        self, message: str, *, provider: str | None = None, status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.estimated_cost_usd: float | None = None


class ProviderTimeout(ProviderError):
    """No answer within the configured timeout (not retried: the chain moves on instead)."""

    outcome = "timeout"


class ProviderRateLimited(ProviderError):
    """HTTP 429 still returned after the retries."""

    outcome = "rate_limited"
    retryable = True


class ProviderServerError(ProviderError):
    """HTTP 5xx (or 529 overloaded) still returned after the retries."""

    outcome = "server_error"
    retryable = True


class ProviderInvalidOutput(ProviderError):
    """The model's answer did not validate against the schema, even after one repair attempt."""

    outcome = "invalid_output"
