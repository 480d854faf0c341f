"""Backoff between retries: exponential from a configurable base, Retry-After honoured, both capped."""

from __future__ import annotations

import email.utils
import time

from ml.llm.openai_provider import OpenAIProvider
from ml.llm.provider import retry_after_seconds
from tests.unit.llm.replay import CASES, INTENT_JSON, Replay


def test_exponential_backoff_grows_and_is_capped() -> None:
    provider = OpenAIProvider("k", backoff_base_s=1.0, max_backoff_s=5.0)
    delays = [provider._backoff(attempt, None) for attempt in range(5)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0
    assert max(delays) <= 5.0


def test_retry_after_wins_but_is_capped() -> None:
    provider = OpenAIProvider("k", backoff_base_s=1.0, max_backoff_s=5.0)
    assert provider._backoff(0, 2.5) == 2.5
    assert provider._backoff(0, 120.0) == 5.0


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds({"retry-after": future}) or 0) <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


async def test_server_retry_after_is_read_from_the_response() -> None:
    openai = CASES[0]
    limited = openai.error(429)
    limited.headers["retry-after-ms"] = "10"
    replay = Replay([limited, openai.ok(INTENT_JSON)])
    provider = openai.build(replay)
    waits: list[float] = []
    original = provider._backoff

    def spy(attempt: int, retry_after_s: float | None) -> float:
        waits.append(retry_after_s or -1)
        return original(attempt, retry_after_s)

    provider._backoff = spy  # type: ignore[method-assign]
    await provider.detect_intent("hola")
    assert waits == [0.01]
    assert len(replay.requests) == 2
