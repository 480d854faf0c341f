"""What each adapter actually sends: the documented JSON-output options, model and system instruction."""

from __future__ import annotations

from ml.llm.anthropic_provider import AnthropicProvider
from ml.llm.defaults import DEFAULT_ANTHROPIC_MODEL, DEFAULT_GEMINI_MODEL, DEFAULT_OPENAI_MODEL
from ml.llm.gemini_provider import GeminiProvider
from ml.llm.openai_provider import OpenAIProvider
from tests.unit.llm.replay import CASES, INTENT_JSON, Replay

OPENAI, ANTHROPIC, GEMINI = CASES


async def test_openai_uses_chat_completions_json_mode() -> None:
    replay = Replay([OPENAI.ok(INTENT_JSON)])
    await OPENAI.build(replay, reasoning_effort="low").detect_intent("hola")

    request = replay.requests[0]
    body = replay.bodies()[0]
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert body["model"] == DEFAULT_OPENAI_MODEL == "gpt-5-mini"
    assert body["response_format"] == {"type": "json_object"}
    assert body["reasoning_effort"] == "low"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "JSON" in body["messages"][0]["content"]


async def test_anthropic_uses_messages_with_system_prompt() -> None:
    replay = Replay([ANTHROPIC.ok(INTENT_JSON)])
    await ANTHROPIC.build(replay).detect_intent("hola")

    request = replay.requests[0]
    body = replay.bodies()[0]
    assert request.url.path == "/v1/messages"
    # This SDK release sends the key as a bearer token; older ones used x-api-key.
    assert "test-key" in (request.headers.get("x-api-key", ""), request.headers.get("authorization", "")[7:])
    assert body["model"] == DEFAULT_ANTHROPIC_MODEL == "claude-sonnet-4-6"
    assert body["max_tokens"] > 0
    assert "JSON" in body["system"]
    assert [m["role"] for m in body["messages"]] == ["user"]  # no prefill


async def test_gemini_asks_for_json_mime_type() -> None:
    replay = Replay([GEMINI.ok(INTENT_JSON)])
    await GEMINI.build(replay, thinking_budget=0).detect_intent("hola")

    request = replay.requests[0]
    body = replay.bodies()[0]
    assert request.url.path.endswith(f"/models/{DEFAULT_GEMINI_MODEL}:generateContent")
    assert DEFAULT_GEMINI_MODEL == "gemini-2.5-flash"
    assert request.headers["x-goog-api-key"] == "test-key"
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    # The SDK passes ThinkingConfig through in snake_case; the API's proto JSON accepts both spellings.
    assert body["generationConfig"]["thinkingConfig"] in ({"thinkingBudget": 0}, {"thinking_budget": 0})
    assert "JSON" in body["systemInstruction"]["parts"][0]["text"]


async def test_model_names_are_settings() -> None:
    for adapter in (OpenAIProvider, AnthropicProvider, GeminiProvider):
        assert adapter("k", "some-other-model").model == "some-other-model"
    replay = Replay([OPENAI.ok(INTENT_JSON)])
    reply = await OPENAI.build(replay, model="gpt-4.1-mini").run_task("intent", "hola")
    assert replay.bodies()[0]["model"] == "gpt-4.1-mini"
    assert reply.model == "gpt-4.1-mini"


async def test_aclose_releases_the_sdk_client() -> None:
    for case in CASES:
        provider = case.build(Replay([case.ok(INTENT_JSON)]))
        await provider.detect_intent("hola")
        await provider.aclose()
        assert provider._client is None
        await provider.aclose()  # idempotent
