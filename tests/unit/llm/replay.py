"""Replays each provider's documented HTTP responses through the SDK's own client (httpx2.MockTransport).

The SDKs send through httpx2, which respx does not see; every adapter takes an httpx2.AsyncClient, so a mock
transport answers exactly what the real API would (shapes from the providers' API references).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from ml.llm.anthropic_provider import AnthropicProvider
from ml.llm.gemini_provider import GeminiProvider
from ml.llm.openai_provider import OpenAIProvider
from ml.llm.provider import LlmProvider

Step = httpx2.Response | Exception | Callable[[httpx2.Request], Any]


@dataclass
class Replay:
    """Answers requests with the queued steps in order (the last one repeats) and keeps the requests."""

    steps: list[Step]
    requests: list[httpx2.Request] = field(default_factory=list)

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            if isinstance(step, httpx2.TransportError):
                raise type(step)(str(step), request=request)
            raise step
        if callable(step):
            result = step(request)
            return await result if asyncio.iscoroutine(result) else result
        return step

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


# --- documented response shapes ---------------------------------------------------------------------------

def openai_ok(text: str, prompt_tokens: int = 1200, completion_tokens: int = 150) -> httpx2.Response:
    """POST /v1/chat/completions → chat.completion object."""
    return httpx2.Response(200, json={
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1764057600,
        "model": "gpt-5-mini-2025-08-07",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 64, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": None,
    }, headers={"x-request-id": "req_openai_1"})


def openai_error(status: int) -> httpx2.Response:
    error = {
        429: {"message": "Rate limit reached for gpt-5-mini in organization org-x on requests per min (RPM): "
                         "Limit 500, Used 500, Requested 1.", "type": "requests", "param": None,
              "code": "rate_limit_exceeded"},
        500: {"message": "The server had an error while processing your request. Sorry about that!",
              "type": "server_error", "param": None, "code": None},
    }.get(status, {"message": "Invalid value for 'model'.", "type": "invalid_request_error", "param": "model",
                   "code": None})
    return httpx2.Response(status, json={"error": error}, headers={"x-request-id": "req_openai_err"})


def anthropic_ok(text: str, input_tokens: int = 1100, output_tokens: int = 180) -> httpx2.Response:
    """POST /v1/messages → message object."""
    return httpx2.Response(200, json={
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "service_tier": "standard"},
    }, headers={"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy"})


def anthropic_error(status: int) -> httpx2.Response:
    kind, message = {
        429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
        500: ("api_error", "Internal server error"),
        529: ("overloaded_error", "Overloaded"),
    }.get(status, ("invalid_request_error", "max_tokens: Field required"))
    return httpx2.Response(status, json={"type": "error", "error": {"type": kind, "message": message},
                                         "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})


def gemini_ok(text: str, prompt_tokens: int = 900, candidates_tokens: int = 120, thoughts_tokens: int = 30
              ) -> httpx2.Response:
    """POST /v1beta/models/{model}:generateContent → GenerateContentResponse."""
    return httpx2.Response(200, json={
        "candidates": [{
            "content": {"parts": [{"text": text}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens, "candidatesTokenCount": candidates_tokens,
            "thoughtsTokenCount": thoughts_tokens,
            "totalTokenCount": prompt_tokens + candidates_tokens + thoughts_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "mBQmaMy4LNTrz7IP3ZqW8QU",
    })


def gemini_error(status: int) -> httpx2.Response:
    state, message = {
        429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        500: ("INTERNAL", "An internal error has occurred. Please retry or report in "
                          "https://developers.generativeai.google/guide/troubleshooting"),
        503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    }.get(status, ("INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."))
    return httpx2.Response(status, json={"error": {"code": status, "message": message, "status": state}})


# --- one description per provider, so the same behaviour is checked on all three ------------------------

@dataclass(frozen=True)
class ProviderCase:
    name: str
    adapter: type[LlmProvider]
    ok: Callable[..., httpx2.Response]
    error: Callable[[int], httpx2.Response]
    tokens: tuple[int, int]  # (input, output) billed by ok() with its defaults

    def build(self, replay: Replay, **kwargs: Any) -> LlmProvider:
        options: dict[str, Any] = {"timeout_s": 5.0, "max_retries": 2, "backoff_base_s": 0.0} | kwargs
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(replay))
        return self.adapter("test-key", http_client=client, **options)

    def prompt_of(self, body: dict[str, Any]) -> str:
        """The user prompt the adapter sent, from the request body."""
        if self.name == "gemini":
            return body["contents"][0]["parts"][0]["text"]
        return body["messages"][-1]["content"]


CASES = [
    ProviderCase("openai", OpenAIProvider, openai_ok, openai_error, (1200, 150)),
    ProviderCase("anthropic", AnthropicProvider, anthropic_ok, anthropic_error, (1100, 180)),
    ProviderCase("gemini", GeminiProvider, gemini_ok, gemini_error, (900, 150)),
]

# --- model answers ----------------------------------------------------------------------------------------

INTENT_JSON = json.dumps({
    "primary_intent": "purchase_inquiry",
    "secondary_intents": ["product_info", "delivery_tracking"],
    "confidence": 0.95,
    "entities": {"products": ["laptops"], "quantities": [10], "money": [],
                 "dates": [{"text": "mañana", "date": None}], "urgency_words": ["mañana"],
                 "order_numbers": [], "emails": [], "phones": []},
    "reasoning": "Pide stock de 10 laptops para mañana",
}, ensure_ascii=False)

SENTIMENT_JSON = json.dumps({
    "sentiment": "negative", "score": -0.78, "confidence": 0.91,
    "emotions": {"anger": 0.65, "frustration": 0.82, "disappointment": 0.43},
    "urgency_level": "high", "churn_risk": 80,
    "triggers": ["llegó defectuoso", "quiero reembolso"],
})

LEAD_JSON = json.dumps({
    "score": 87, "category": "hot",
    "factors": [
        {"name": "urgency", "points": 27, "max_points": 30, "evidence": ["urgente"]},
        {"name": "decision_power", "points": 23, "max_points": 25, "evidence": ["soy dueño de una empresa"]},
        {"name": "budget", "points": 20, "max_points": 25, "evidence": ["500 unidades"]},
        {"name": "product_fit", "points": 17, "max_points": 20, "evidence": []},
    ],
    "signals": ["urgency", "decision_maker", "bulk_quantity"],
    "reasoning": "Empresa con necesidad urgente de volumen alto",
    "recommended_action": "assign_to_sales_immediately",
}, ensure_ascii=False)
