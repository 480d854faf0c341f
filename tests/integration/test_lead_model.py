"""The lead-conversion model end to end on a small synthetic history: the dbt features mart (and that no feature
moves when later data arrives), training and registration in a temporary MLflow store, the blocking promotion
check (a worse challenger stays out), and the API serving the champion with its reasons, swapping to a newly
promoted version without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pytest

from ml.leads.features import FEATURES
from ml.nlu.engine import load_or_train
from ml.registry import CHAMPION, LEAD_MODEL
from orchestration.defs.ml.assets import challenger_beats_champion, lead_conversion_model
from orchestration.defs.ml.monitoring_assets import lead_model_inputs_are_stable, model_monitoring
from orchestration.defs.ml.sales_assets import revenue_forecast_weekly, sales_predictions
from orchestration.defs.resources import WarehouseResource
from ml.leads.history_store import load_lead_history
from tests.conftest import truncate_all
from tests.helpers import add_api_key, api_client, make_settings
from tests.integration.conftest import Store
from tests.integration.test_dbt_build import dbt

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
LEADS = 900


@pytest.fixture(scope="module")
def history(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """LEADS synthetic leads read by the real NLU, and the features mart built over them."""
    from crm.settings import get_settings

    truncate_all(database_url)
    with psycopg.connect(database_url) as conn:
        assert load_lead_history(conn, load_or_train(get_settings().nlu_model_dir), LEADS, NOW, seed=3) == LEADS
    work = tmp_path_factory.mktemp("dbt-leads")
    built = dbt(database_url, work, "build", "--select", "+lead_features", "--indirect-selection", "cautious")
    assert built.returncode == 0, built.stdout[-4000:]
    yield work
    truncate_all(database_url)


def features(url: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn:
        cursor = conn.execute("SELECT * FROM marts.lead_features ORDER BY contact_id")
        return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])


def train(url: str, store: Store, **config: object) -> dg.ExecuteInProcessResult:
    return dg.materialize([lead_conversion_model, challenger_beats_champion], raise_on_error=False,
                          resources={"warehouse": WarehouseResource(dsn=url), "mlflow_store": store.resource(url)},
                          run_config={"ops": {"ml__lead_conversion_model": {"config": config}}})


def check_of(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_no_feature_uses_data_after_the_decision_time(database_url: str, history: Path) -> None:
    before = features(database_url)
    assert len(before) == LEADS and before["label_complete"].any() and not before["label_complete"].all()
    assert 0.1 < before.loc[before["label_complete"], "converted_90d"].mean() < 0.5, "a realistic conversion rate"
    lead = before[~before["converted_90d"] & before["label_complete"]].iloc[0]
    as_of = lead["as_of"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Everything that happens after each lead's decision time: more messages, a much hotter later score,
        # a new conversation, and for one lead an order 10 days later.
        conn.execute("""
            INSERT INTO crm.messages (channel, dedup_key, direction, message_type, text, counterpart_external_id,
                                      sent_at, contact_id, conversation_id)
            SELECT f.channel, 'later-' || f.contact_id, 'inbound', 'text', 'quiero comprar ya, tengo $2000', 'x',
                   f.as_of + interval '1 minute', f.contact_id, NULL
            FROM marts.lead_features f""")
        conn.execute("""
            INSERT INTO crm.lead_classifications (contact_id, source, model, score, category, created_at)
            SELECT contact_id, 'api', 'later', 99, 'hot', as_of + interval '2 minutes' FROM marts.lead_features""")
        # A later re-analysis of the decision message itself (another intent, the opposite tone).
        conn.execute("""
            INSERT INTO crm.intent_detections (message_id, contact_id, source, model, primary_intent, confidence,
                                               created_at)
            SELECT c.message_id, f.contact_id, 'api', 'later', 'spam', 0.99, f.as_of + interval '3 minutes'
            FROM marts.lead_features f JOIN crm.lead_classifications c ON c.id = f.lead_classification_id""")
        conn.execute("""
            INSERT INTO crm.sentiment_analyses (message_id, contact_id, source, model, sentiment, score, confidence,
                                                urgency_level, churn_risk, created_at)
            SELECT c.message_id, f.contact_id, 'api', 'later', 'negative', -1, 0.99, 'high', 5,
                   f.as_of + interval '3 minutes'
            FROM marts.lead_features f JOIN crm.lead_classifications c ON c.id = f.lead_classification_id""")
        conn.execute("INSERT INTO crm.orders (order_number, contact_id, status, total, subtotal, placed_at) "
                     "VALUES ('LATER-1', %s, 'paid', 500, 500, %s)", (int(lead["contact_id"]), as_of + timedelta(days=10)))
        conn.execute("INSERT INTO crm.orders (order_number, contact_id, status, total, subtotal, placed_at) "
                     "SELECT 'LATER-ALL-' || contact_id, contact_id, 'paid', 90, 90, as_of + interval '200 days' "
                     "FROM marts.lead_features")
    rebuilt = dbt(database_url, history, "run", "--select", "lead_features")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    after = features(database_url)
    pd.testing.assert_frame_equal(before[["contact_id", "as_of", *FEATURES]], after[["contact_id", "as_of", *FEATURES]])
    changed = after.set_index("contact_id").loc[int(lead["contact_id"])]
    assert bool(changed["converted_90d"]) and float(changed["revenue_90d"]) == 500.0, "the label does see the future"
    with psycopg.connect(database_url, autocommit=True) as conn:  # put the history back as it was
        conn.execute("DELETE FROM crm.messages WHERE dedup_key LIKE 'later-%'")
        conn.execute("DELETE FROM crm.lead_classifications WHERE model = 'later'")
        conn.execute("DELETE FROM crm.intent_detections WHERE model = 'later'")
        conn.execute("DELETE FROM crm.sentiment_analyses WHERE model = 'later'")
        conn.execute("DELETE FROM crm.orders WHERE order_number LIKE 'LATER-%'")
    assert dbt(database_url, history, "run", "--select", "lead_features").returncode == 0


async def test_train_promote_serve_and_explain(database_url: str, history: Path, store: Store) -> None:
    first = train(database_url, store)
    assert first.success
    (materialization,) = [e.event_specific_data.materialization for e in first.get_asset_materialization_events()]
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["trained"] is True and metadata["version"] == 1
    assert 0.55 < metadata["roc_auc"] <= 1 and 0 < metadata["brier"] < 0.25 and metadata["pr_auc"] > 0
    assert len(metadata["calibration"]) == 10
    assert check_of(first).passed, "the first model is promoted: nobody to beat"

    worse = train(database_url, store, num_boost_round=2, num_leaves=2, min_data_in_leaf=400, force=True)
    verdict = check_of(worse)
    assert not verdict.passed and not worse.success, "a worse challenger blocks the run"
    assert verdict.metadata["champion_version"].value == 1 and verdict.metadata["gap"].value < 0

    unchanged = train(database_url, store)  # the daily run with no new outcomes: nothing to train or judge
    (skipped,) = [e.event_specific_data.materialization for e in unchanged.get_asset_materialization_events()]
    assert unchanged.success and skipped.metadata["trained"].value is False
    assert "no new labelled leads" in skipped.metadata["reason"].value

    from mlflow import MlflowClient

    client = MlflowClient(store.tracking_uri)
    assert str(client.get_model_version_by_alias(LEAD_MODEL, CHAMPION).version) == "1"
    run = client.get_run(client.get_model_version(LEAD_MODEL, "1").run_id)
    assert {"roc_auc", "pr_auc", "brier"} <= set(run.data.metrics) and run.data.tags.get("git_commit")
    assert {"calibration.json", "feature_importance.json", "held_out.parquet"} <= {
        a.path for a in client.list_artifacts(run.info.run_id)}

    monitored = dg.materialize([model_monitoring, lead_model_inputs_are_stable],
                               resources={"warehouse": WarehouseResource(dsn=database_url),
                                          "mlflow_store": store.resource(database_url)})
    assert monitored.success
    with psycopg.connect(database_url) as conn:
        drift = dict(conn.execute("SELECT feature, value FROM warehouse.model_monitoring WHERE version = 1 "
                                  "AND metric = 'psi'").fetchall())
        live = dict(conn.execute("SELECT metric, value FROM warehouse.model_monitoring WHERE feature = 'model'")
                    .fetchall())
    # Every feature and the predictions measured (PSI's meaning is covered by tests/unit/ml/test_monitoring.py;
    # with ~50 recent leads here, small-sample noise alone can pass 0.25).
    assert set(drift) == {*FEATURES, "prediction"} and all(0 <= value < 10 for value in drift.values()), drift
    assert set(live) == {"live_roc_auc", "live_brier", "live_leads"} and 0.5 < live["live_roc_auc"] < 1

    with psycopg.connect(database_url, autocommit=True) as conn:  # two open opportunities, one with a set chance
        conn.execute("INSERT INTO crm.opportunities (contact_id, value, stage, probability, expected_close_date) "
                     "SELECT min(contact_id), 1000, 'proposal', 0.5, now()::date + 20 FROM marts.lead_features")
        conn.execute("INSERT INTO crm.opportunities (contact_id, value, stage) "  # a lead still in its 90 days
                     "SELECT contact_id, 200, 'new' FROM marts.lead_features WHERE NOT label_complete "
                     "ORDER BY as_of DESC LIMIT 1")
    sales = dg.materialize([sales_predictions, revenue_forecast_weekly],
                           resources={"warehouse": WarehouseResource(dsn=database_url),
                                      "mlflow_store": store.resource(database_url)})
    assert sales.success
    with psycopg.connect(database_url) as conn:
        buyers = conn.execute("SELECT count(DISTINCT contact_id) FROM crm.orders WHERE status = 'delivered' "
                              "AND placed_at <= now()").fetchone()[0]
        customers = conn.execute("SELECT count(*), min(p_purchase), max(p_purchase), sum(expected_revenue) "
                                 "FROM marts.sales_predictions WHERE kind = 'customer'").fetchone()
        opportunities = conn.execute("SELECT value, close_probability, probability_source, expected_value FROM "
                                     "marts.sales_predictions WHERE kind = 'opportunity' ORDER BY value DESC")\
            .fetchall()
        weeks = conn.execute("SELECT count(*), sum(repeat_revenue), sum(opportunity_revenue) "
                             "FROM marts.revenue_forecast_weekly").fetchone()
    assert customers[0] == buyers and 0 <= customers[1] <= customers[2] <= 1 and customers[3] > 0
    assert opportunities[0] == (1000.0, 0.5, "set_by_person", 500.0)
    assert opportunities[1][2] == "lead_model" and 0 < opportunities[1][1] < 1, "the served model's probability"
    assert weeks[0] in (13, 14) and abs(weeks[1] - customers[3]) < 1
    assert abs(weeks[2] - (500 + opportunities[1][3])) < 0.01

    key = await add_api_key_for(database_url)
    settings = make_settings(database_url, mlflow_tracking_uri=store.tracking_uri, lead_model_refresh_s=0.2)
    body = {"message": "Quiero comprar 3 iPhone 15 hoy, tengo $2700, ¿hacen envío a David?",
            "sender_metadata": {"phone": "+50760001111", "channel": "whatsapp"}}
    async with api_client(settings) as api:
        answer = (await api.post("/api/v1/leads/classify", json=body, headers=key)).json()
        assert answer["model_version"] == 1 and 0 < answer["conversion_probability"] < 1
        assert answer["combined_score"] == round(0.5 * answer["score"] + 50 * answer["conversion_probability"])
        assert len(answer["top_factors"]) == 3
        for factor in answer["top_factors"]:
            assert factor["feature"] in FEATURES and factor["explanation"].endswith("likely to buy")
            assert ("more likely" in factor["explanation"]) == (factor["contribution"] > 0)

        # A person promotes version 2 in MLflow: the running API serves it without a restart.
        client.set_registered_model_alias(LEAD_MODEL, CHAMPION, "2")
        for _ in range(50):
            again = (await api.post("/api/v1/leads/classify", json=body, headers=key)).json()
            if again["model_version"] == 2:
                break
            await asyncio.sleep(0.1)
        assert again["model_version"] == 2 and again["conversion_probability"] != answer["conversion_probability"]


async def add_api_key_for(database_url: str) -> dict[str, str]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return await add_api_key(conn, "read")


async def test_live_features_match_the_mart(database_url: str, history: Path) -> None:
    """What the API computes for a message equals the mart's row for the same lead at the same moment (no
    training / serving skew)."""
    from crm.db.engine import create_engine, session_factory
    from crm.settings import get_settings
    from ml.leads.features import live_features
    from serving.services.lead_history import lead_history

    rows = features(database_url)
    returning = rows[rows["prior_orders"] > 0].iloc[0]  # a customer with paid orders before writing
    contact = int(returning["contact_id"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        text = conn.execute("SELECT m.text FROM crm.lead_classifications c JOIN crm.messages m ON m.id = c.message_id "
                            "WHERE c.id = %s", (int(returning["lead_classification_id"]),)).fetchone()[0]
        conn.execute("UPDATE crm.contacts SET phone_e164 = '+50760009999' WHERE id = %s", (contact,))
    analysis = load_or_train(get_settings().nlu_model_dir).analyze(text)
    as_of = returning["as_of"].to_pydatetime()
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:  # just before the message was stored: the API's view
            known = await lead_history(session, "+507 6000-9999", text, as_of - timedelta(milliseconds=1))
    finally:
        await engine.dispose()
    live = live_features(analysis, channel=returning["channel"], at=as_of.astimezone(UTC), history=known)
    for name in FEATURES:
        expected, got = returning[name], live[name]
        if isinstance(expected, str):
            assert got == expected, name
        elif pd.isna(expected):
            assert got is None, name
        else:
            assert float(got) == pytest.approx(float(expected), rel=1e-6, abs=1e-6), name
