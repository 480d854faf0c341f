"""The understanding endpoints: spec shapes, stored records, and clear 422s for bad input."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import add_api_key, api_client, count, fetch_one, make_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def key(db: psycopg.AsyncConnection) -> dict[str, str]:
    return await add_api_key(db, "read")


async def test_classify_lead_returns_the_spec_shape_and_stores_it(clean_db: str, db: psycopg.AsyncConnection,
                                                                   key: dict[str, str]) -> None:
    body = {"message": "Hola, soy dueño de una empresa y necesito 500 unidades urgente, pago por transferencia",
            "sender_metadata": {"phone": "+50760000000", "name": "Juan Pérez", "previous_interactions": 0}}
    async with api_client(make_settings(clean_db)) as client:
        response = await client.post("/api/v1/leads/classify", json=body, headers=key)
    assert response.status_code == 200, response.text
    data = response.json()
    for field in ("lead_id", "score", "category", "reasoning", "recommended_action", "ai_model_used",
                  "processing_time_ms", "factors", "language"):
        assert field in data
    assert data["category"] == "hot" and data["score"] >= 80 and data["language"] == "es"
    assert data["ai_model_used"].startswith("local-nlu")
    stored = await fetch_one(db, "SELECT score, category, source FROM crm.lead_classifications")
    assert stored == {"score": data["score"], "category": data["category"], "source": "api"}
    assert data["lead_id"].startswith("lead_")


async def test_intent_sentiment_and_routing_endpoints(clean_db: str, key: dict[str, str]) -> None:
    async with api_client(make_settings(clean_db)) as client:
        intent = await client.post("/api/v1/intents/detect", headers=key,
                                   json={"message": "Necesito 10 laptops para mañana, tienen stock?"})
        sentiment = await client.post("/api/v1/sentiment/analyze", headers=key,
                                      json={"message": "llevo 2 semanas esperando y NADIE responde, que estafa 😡"})
        routed = await client.post("/api/v1/routing/decide", headers=key,
                                   json={"message": "se me daño la licuadora a los 3 dias, quiero cambio por garantia"})
        by_signals = await client.post("/api/v1/routing/decide", headers=key, json={"signals": {
            "intent": "purchase_inquiry", "sentiment": "positive", "sentiment_score": 0.4, "churn_risk": 0,
            "lead_score": 85}})
    assert intent.status_code == 200
    i = intent.json()
    assert i["primary_intent"] in ("purchase_inquiry", "product_info") and 10 in i["entities"]["quantities"]
    assert i["entities"]["dates"] and 0 < i["confidence"] <= 1
    s = sentiment.json()
    assert s["sentiment"] == "negative" and s["score"] < 0 and s["recommended_priority"] != "normal"
    assert set(s["emotions"]) <= {"anger", "frustration", "disappointment", "joy", "satisfaction"}
    r = routed.json()
    assert r["destination"] in ("support_team", "retention_specialist") and r["priority"] >= 4
    assert r["reasoning"] and r["routing_id"]
    assert by_signals.json()["destination"] == "sales_team" and by_signals.json()["priority"] == 5


@pytest.mark.parametrize("payload", [
    {"message": ""}, {"message": "   "}, {"message": "?!... "}, {"message": 42}, {"message": ["hola"]},
    {"message": None}, {}, {"message": "x" * 4001},
])
async def test_bad_input_is_a_clear_422(clean_db: str, db: psycopg.AsyncConnection, key: dict[str, str],
                                        payload: dict) -> None:
    async with api_client(make_settings(clean_db)) as client:
        for path in ("/api/v1/leads/classify", "/api/v1/intents/detect", "/api/v1/sentiment/analyze"):
            response = await client.post(path, json=payload, headers=key)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["detail"][0]["msg"]
        not_json = await client.post("/api/v1/intents/detect", content=b"hola", headers={
            **key, "Content-Type": "text/plain"})
        assert not_json.status_code == 422
        both = await client.post("/api/v1/routing/decide", json={}, headers=key)
        assert both.status_code == 422
    assert await count(db, "intent_detections") == 0


async def test_endpoints_need_a_key(clean_db: str) -> None:
    async with api_client(make_settings(clean_db)) as client:
        for path in ("/api/v1/leads/classify", "/api/v1/intents/detect", "/api/v1/sentiment/analyze",
                     "/api/v1/routing/decide"):
            assert (await client.post(path, json={"message": "hola"})).status_code == 401
