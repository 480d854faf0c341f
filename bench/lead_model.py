"""Lead-conversion model benchmark: training time and memory on the demo's features mart, and scoring latency
(the model alone, and the whole /api/v1/leads/classify request in-process with the champion loaded).

    .venv/bin/python bench/lead_model.py [--requests 300]

Needs `make demo` to have run (marts.lead_features filled, a champion promoted). Training goes to a throwaway
MLflow store (SQLite in a temporary folder), so the project's registry is untouched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_training(database_url: str) -> None:
    import pandas as pd
    import psycopg

    from crm.db.urls import plain_url
    from ml.leads.train import train_lead_conversion
    from ml.registry import LEAD_MODEL, configure

    with psycopg.connect(plain_url(database_url)) as conn:
        cursor = conn.execute("SELECT * FROM marts.lead_features")
        rows = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
    folder = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    configure(f"sqlite:///{folder / 'mlflow.db'}", folder / "artifacts", LEAD_MODEL)
    before = rss_mb()
    started = time.perf_counter()
    result = train_lead_conversion(rows)
    seconds = time.perf_counter() - started
    print(f"training: {len(rows):,} leads ({int(rows['label_complete'].sum()):,} with a known outcome), "
          f"{seconds:.1f} s including MLflow logging and registration; peak RSS {rss_mb():.0f} MB "
          f"(before {before:.0f} MB); held-out ROC AUC {result.metrics['roc_auc']:.3f}")


async def bench_scoring(database_url: str, requests: int) -> None:
    from crm.security.api_keys import generate_key, hash_key
    from crm.settings import get_settings
    from tests.helpers import api_client

    import psycopg

    from crm.db.urls import plain_url

    key = generate_key()
    with psycopg.connect(plain_url(database_url), autocommit=True) as conn:
        conn.execute("INSERT INTO crm.api_keys (name, scope, prefix, key_hash) VALUES ('bench-leads', 'read', 'b', %s)",
                     (hash_key(key),))
    settings = get_settings()
    body = {"message": "Quiero comprar 2 laptops Lenovo hoy, tengo $1500, ¿envían a David?",
            "sender_metadata": {"phone": "+50761234567", "channel": "whatsapp"}}
    try:
        async with api_client(settings) as api:
            model = api.app.state.lead_model  # type: ignore[attr-defined]
            if not model.loaded:
                print("no champion promoted: run `make demo` first")
                return
            from ml.leads.features import FEATURES

            features = {name: 0 for name in FEATURES} | {"primary_intent": "purchase_inquiry", "channel": "whatsapp"}
            for _ in range(50):
                model.score(features)
            model_ms = []
            for _ in range(1000):
                started = time.perf_counter()
                model.score(features)
                model_ms.append((time.perf_counter() - started) * 1000)
            headers = {"Authorization": f"Bearer {key}"}
            for _ in range(20):
                await api.post("/api/v1/leads/classify", json=body, headers=headers)
            request_ms = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await api.post("/api/v1/leads/classify", json=body, headers=headers)
                request_ms.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200 and response.json()["model_version"] is not None
        print(f"model.score (probability + 3 contributions): p50 {statistics.median(model_ms):.2f} ms, "
              f"p95 {percentile(model_ms, 0.95):.2f} ms")
        print(f"/api/v1/leads/classify in-process (NLU + history query + model + stored record), {requests} "
              f"requests one at a time: p50 {statistics.median(request_ms):.1f} ms, "
              f"p95 {percentile(request_ms, 0.95):.1f} ms; process peak RSS {rss_mb():.0f} MB")
    finally:
        with psycopg.connect(plain_url(database_url), autocommit=True) as conn:
            conn.execute("DELETE FROM crm.api_keys WHERE name = 'bench-leads'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    from crm.db.runtime import resolve_database_url

    database_url = os.environ.get("DATABASE_URL") or resolve_database_url(start=True)
    os.environ["DATABASE_URL"] = database_url
    asyncio.run(bench_scoring(database_url, args.requests))  # first: its RSS is the API's, not the trainer's
    bench_training(database_url)


if __name__ == "__main__":
    main()
