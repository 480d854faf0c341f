"""Labels corrected by agents reach the NLU: stored with who and when, retrained into a challenger that is promoted
only when it scores better on the same held-out examples, and picked up by the running API without a restart."""

from __future__ import annotations

import asyncio

import dagster as dg
import psycopg
import pytest

from ml.nlu.retrain import NLU_MODEL
from orchestration.defs.ml.nlu_assets import nlu_challenger_beats_champion, nlu_text_models
from orchestration.defs.resources import WarehouseResource
from tests.helpers import add_api_key, api_client, fetch_one, make_settings
from tests.integration.conftest import Store

pytestmark = pytest.mark.integration

# Sponsorship and barter offers the shipped corpus never saw: the champion reads them as general questions or
# purchases; the business's agents label them partnership.
OFFERS = ["ustedes patrocinan eventos? torneo {}", "quiero hacer trueque con ustedes {}",
          "¿patrocinan al equipo {} de la liga?", "propongo un trueque de publicidad por equipos, lote {}"]


def retrain(url: str, store: Store, **config: object) -> dg.ExecuteInProcessResult:
    return dg.materialize([nlu_text_models, nlu_challenger_beats_champion], raise_on_error=False,
                          resources={"warehouse": WarehouseResource(dsn=url), "mlflow_store": store.resource(url)},
                          run_config={"ops": {"ml__nlu_text_models": {"config": config}}})


async def test_corrected_labels_retrain_promote_and_hot_load(clean_db: str, db: psycopg.AsyncConnection,
                                                             store: Store) -> None:
    agent = await fetch_one(db, "INSERT INTO crm.agents (name, department) VALUES ('Luz', 'sales_team') RETURNING id")
    key = await add_api_key(db, "agent", agent_id=agent["id"])
    settings = make_settings(clean_db, mlflow_tracking_uri=store.tracking_uri, lead_model_refresh_s=0.2)
    probe = "ustedes patrocinan eventos? torneo 99"

    first = retrain(clean_db, store)  # no corrections yet: the corpus alone would give the shipped models again
    (nothing,) = [e.event_specific_data.materialization for e in first.get_asset_materialization_events()]
    assert first.success and nothing.metadata["trained"].value is False

    async with api_client(settings) as api:
        before = (await api.post("/api/v1/intents/detect", json={"message": probe}, headers=key)).json()
        assert before["primary_intent"] != "partnership"
        refused = await api.post("/api/v1/feedback/labels", json={"text": "hola"}, headers=key)
        assert refused.status_code == 422, "a correction needs a label"
        missing = await api.post("/api/v1/feedback/labels", json={"message_id": 999999, "intent": "spam"},
                                 headers=key)
        assert missing.status_code == 404
        for n in range(1, 61):
            text = OFFERS[n % len(OFFERS)].format(n)
            answer = await api.post("/api/v1/feedback/labels", headers=key,
                                    json={"text": text, "intent": "partnership"})
            assert answer.status_code == 201, answer.text
        assert answer.json()["labelled_by"] == f"agent:{agent['id']}"
        stored = await fetch_one(db, "SELECT count(*) AS n, min(sentiment) AS sentiment FROM crm.label_feedback")
        assert stored == {"n": 60, "sentiment": None}, "only what the person said is stored"

        second = retrain(clean_db, store)
        (verdict,) = second.get_asset_check_evaluations()
        assert second.success and verdict.passed, verdict.metadata
        assert verdict.metadata["gap"].value > 0, "better than the shipped models on the same examples"

        for _ in range(50):  # the API swaps in version 1 by itself
            after = (await api.post("/api/v1/intents/detect", json={"message": probe}, headers=key)).json()
            if after["primary_intent"] == "partnership":
                break
            await asyncio.sleep(0.1)
        assert after["primary_intent"] == "partnership"

    unchanged = retrain(clean_db, store)  # no new corrections: nothing trained, nothing judged
    (skipped,) = [e.event_specific_data.materialization for e in unchanged.get_asset_materialization_events()]
    assert unchanged.success and skipped.metadata["trained"].value is False
    from mlflow import MlflowClient

    client = MlflowClient(store.tracking_uri)
    assert str(client.get_model_version_by_alias(NLU_MODEL, "champion").version) == "1"
    run = client.get_run(client.get_model_version(NLU_MODEL, "1").run_id)
    assert run.data.tags.get("git_commit") and {"intent_macro_f1", "sentiment_macro_f1"} <= set(run.data.metrics)

    # A challenger no better than the champion (forced retrain on the same labels) is not promoted.
    same = retrain(clean_db, store, force=True)
    (rejected,) = same.get_asset_check_evaluations()
    assert not rejected.passed and not same.success
    assert str(client.get_model_version_by_alias(NLU_MODEL, "champion").version) == "1"
