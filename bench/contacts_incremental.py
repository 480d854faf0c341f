"""The new-contacts path: a full dedup run on N contacts, then K more arriving, scored incrementally with the
saved model (what `new_contacts_sensor` runs) against a full re-run on N + K; time and cluster quality of both.

    .venv/bin/python bench/contacts_incremental.py --rows 100000 --new 1000 [--seed 7]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ml.contacts.clean import clean_contacts  # noqa: E402
from ml.contacts.synthetic import dirty_contacts  # noqa: E402
from ml.dedup.engine import deduplicate  # noqa: E402
from ml.dedup.evaluate import pairs_from_clusters, pairwise_scores  # noqa: E402
from ml.dedup.incremental import fold_into_clusters, link_new_records  # noqa: E402
from orchestration.defs.contacts.assets import DEDUP_FIELDS, EXACT_KEYS  # noqa: E402


def f1(clusters, truth) -> str:  # noqa: ANN001
    scores = pairwise_scores(pairs_from_clusters(clusters), truth)
    p = scores.true_positives / max(scores.true_positives + scores.false_positives, 1)
    r = scores.true_positives / max(scores.true_positives + scores.false_negatives, 1)
    return f"P {p:.4f} R {r:.4f} F1 {2 * p * r / max(p + r, 1e-9):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    raw, truth = dirty_contacts(args.rows + args.new, seed=args.seed)
    clean = clean_contacts(raw, default_region="PA")
    frame = clean[~clean["is_junk"]][["contact_id", *DEDUP_FIELDS]].reset_index(drop=True)
    old, new = frame.iloc[:-args.new], frame.iloc[-args.new:]

    started = time.perf_counter()
    first = deduplicate(old, "contact_id", DEDUP_FIELDS, threshold=0.9, exact_keys=EXACT_KEYS)
    print(f"full run on {len(old):,} contacts: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    pairs = link_new_records(old, new, "contact_id", DEDUP_FIELDS, first.model["settings"], exact_keys=EXACT_KEYS)
    folded = fold_into_clusters(first.clusters, list(new["contact_id"]), pairs, threshold=0.9)
    incremental_s = time.perf_counter() - started
    print(f"incremental, {len(new):,} new contacts: {incremental_s:.1f} s, {f1(folded, truth)}")
    started = time.perf_counter()
    again = deduplicate(frame, "contact_id", DEDUP_FIELDS, threshold=0.9, exact_keys=EXACT_KEYS)
    print(f"full re-run on {len(frame):,}: {time.perf_counter() - started:.1f} s, {f1(again.clusters, truth)}")


if __name__ == "__main__":
    main()
