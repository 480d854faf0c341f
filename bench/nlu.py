"""Local NLU benchmark: messages/s and latency per message (language + intent + entities + sentiment + lead
score), and held-out macro-F1 for intent and sentiment. Budget: < 5 ms per message after warm-up.

    .venv/bin/python bench/nlu.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.settings import get_settings  # noqa: E402
from ml.nlu.corpus import load_corpus, split  # noqa: E402
from ml.nlu.engine import load_or_train  # noqa: E402
from ml.nlu.train import evaluate  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the corpus")
    args = parser.parse_args()

    analyzer = load_or_train(get_settings().nlu_model_dir)
    examples = load_corpus()
    texts = [e.text for e in examples]
    for text in texts[:50]:  # warm-up: lazy loads (lingua, VADER, dateparser) and caches
        analyzer.analyze(text)
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(args.repeat):
        for text in texts:
            t0 = time.perf_counter()
            analyzer.analyze(text)
            latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    quality = evaluate(analyzer.models, split(examples, "test"))
    result = {
        "messages": len(latencies),
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "mean_ms": round(statistics.fmean(latencies), 3),
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p95_ms": round(percentile(latencies, 0.95), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "max_ms": round(max(latencies), 3),
        "intent_macro_f1": quality["intent"]["macro_f1"],
        "sentiment_macro_f1": quality["sentiment"]["macro_f1"],
        "held_out_examples": quality["examples"],
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"nlu-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
