"""The endpoints with an LLM provider configured: the provider answers, every call is recorded in the
database, and the local models take over when the provider fails. Replayed through the SDK's own client."""

from __future__ import annotations

import httpx2
import psycopg
import pytest

from ml.llm.chain import AnalyzerChain
from ml.llm.openai_provider import OpenAIProvider
from serving.services.understanding import llm_call_recorder
from tests.helpers import add_api_key, api_client, fetch_one, make_settings
from tests.unit.llm.replay import INTENT_JSON, Replay, openai_error, openai_ok

pytestmark = pytest.mark.integration


async def install_chain(client, replay: Replay, mode: str = "chain") -> None:  # noqa: ANN001
    app = client.app
    provider = OpenAIProvider("sk-test", model="gpt-5-mini", max_retries=1, backoff_base_s=0.0,
                              http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(replay)))
    app.state.understanding.chain = AnalyzerChain([provider], app.state.understanding.local, mode=mode,
                                                  on_call=llm_call_recorder(lambda: app.state.sessions))


@pytest.fixture
async def key(db: psycopg.AsyncConnection) -> dict[str, str]:
    return await add_api_key(db, "read")


async def test_the_provider_answers_and_the_call_is_recorded(clean_db: str, db: psycopg.AsyncConnection,
                                                             key: dict[str, str]) -> None:
    replay = Replay([openai_ok(INTENT_JSON)])
    async with api_client(make_settings(clean_db)) as client:
        await install_chain(client, replay)
        response = await client.post("/api/v1/intents/detect", headers=key,
                                     json={"message": "Necesito 10 laptops para mañana, tienen stock?"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["ai_model_used"] == "openai:gpt-5-mini" and data["primary_intent"] == "purchase_inquiry"
    assert data["confidence"] == 0.95
    call = await fetch_one(db, "SELECT * FROM crm.llm_calls WHERE task = 'intent' AND provider = 'openai'")
    assert call["outcome"] == "ok" and call["input_tokens"] == 1200 and call["output_tokens"] == 150
    assert call["estimated_cost_usd"] is not None and call["latency_ms"] >= 0
    assert "laptops" in replay.bodies()[0]["messages"][-1]["content"]


async def test_a_failing_provider_falls_back_to_the_local_models(clean_db: str, db: psycopg.AsyncConnection,
                                                                 key: dict[str, str]) -> None:
    replay = Replay([openai_error(500)])
    async with api_client(make_settings(clean_db)) as client:
        await install_chain(client, replay)
        response = await client.post("/api/v1/sentiment/analyze", headers=key,
                                     json={"message": "pesimo servicio, nadie responde 😡"})
    assert response.status_code == 200
    assert response.json()["ai_model_used"].startswith("local-nlu")
    outcomes = {(row[0], row[1]) for row in await (await db.execute(
        "SELECT provider, outcome FROM crm.llm_calls WHERE task = 'sentiment'")).fetchall()}
    assert ("openai", "server_error") in outcomes and ("local", "ok") in outcomes
