"""Contacts pipeline benchmark (flows 18-20): clean + dedup + enrich on synthetic dirty contacts, timed per
stage, with peak memory and dedup quality against the planted duplicates. Budget: 100,000 contacts in < 120 s,
memory < 2 GB.

    .venv/bin/python bench/contacts.py --rows 100000 --seed 7 [--threshold 0.9]
    .venv/bin/python bench/contacts.py --rows 10000                  # a quick figure

Input (generated first, not counted: it stands for reading the crm tables): ``dirty_contacts(rows, seed,
duplicate_share=0.15)`` and, from the same seed, messages (``--messages`` per contact on average, Poisson) and
orders (``--orders`` per contact, Poisson) shaped like the asset's MESSAGES_SQL / ORDERS_SQL.

Stages, as the Dagster assets (orchestration/defs/contacts/assets.py) run them, minus the warehouse I/O:
- clean:  ``clean_contacts(raw, default_region="PA")``;
- dedup:  junk rows out (they stay singletons), ``deduplicate`` on the asset's DEDUP_FIELDS with exact keys
          phone_e164 and email_normalized, junk singletons appended; the engine's own stages are timed through
          its progress callback;
- enrich: ``enrich_contacts(clean, messages, orders, now=..., id_column="contact_id")``.

Quality: pairwise precision / recall / F1 of the pairs inside the output clusters (the transitive closure,
what the asset writes) and of the links >= threshold, against the planted pairs. Memory: the process's
``ru_maxrss`` (interpreter, libraries and DuckDB included) after each stage; ``--tracemalloc`` adds
Python-heap peaks per stage (it does not see DuckDB's allocations and slows Python code down: its timings are
not the benchmark's).
Prints a table and writes bench/results/contacts-<UTC timestamp>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ml.contacts.clean import clean_contacts  # noqa: E402
from ml.contacts.enrich import enrich_contacts  # noqa: E402
from ml.contacts.synthetic import dirty_contacts  # noqa: E402
from ml.dedup.engine import deduplicate  # noqa: E402
from ml.dedup.evaluate import pairs_from_clusters, pairwise_scores  # noqa: E402

# Same roles and exact keys as the contact_clusters asset.
DEDUP_FIELDS = {"first_name_clean": "first_name", "last_name_clean": "last_name", "phone_e164": "phone",
                "email_normalized": "email", "city_clean": "city"}
EXACT_KEYS = ["phone_e164", "email_normalized"]
NOW = pd.Timestamp("2025-06-30T12:00:00Z")  # the synthetic generator's "now"
CHANNELS = np.array(["whatsapp", "instagram", "messenger", "web"], dtype=object)
STATUSES = np.array(["paid", "delivered", "shipped", "cancelled", "refunded", "draft"], dtype=object)
BUDGET_SECONDS = 120.0
BUDGET_MB = 2048.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ------------------------------------------------------------------------------------------ synthetic input


def synthetic_activity(contacts: pd.DataFrame, seed: int, messages_per_contact: float,
                       orders_per_contact: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Messages (contact_id, channel, direction, sent_at, language) and orders (contact_id, total, placed_at,
    status), seeded, after each contact's created_at and before NOW. Vectorised: it is input, not what is
    measured."""
    rng = np.random.default_rng(seed + 1)
    ids = contacts["contact_id"].to_numpy()
    stamps_in = pd.to_datetime(contacts["created_at"], utc=True)
    created = ((stamps_in - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    now = int(NOW.timestamp())
    span = np.maximum(now - created, 1)

    def rows_for(mean: float) -> np.ndarray:
        counts = rng.poisson(mean, size=len(ids))
        return np.repeat(np.arange(len(ids)), counts)

    def stamps(rows: np.ndarray) -> pd.Series:
        seconds = created[rows] + (rng.random(len(rows)) * span[rows]).astype(np.int64)
        return pd.Series(pd.to_datetime(seconds, unit="s", utc=True))

    m = rows_for(messages_per_contact)
    inbound = rng.random(len(m)) < 0.55
    language = rng.choice(np.array(["es", "en", "pt"], dtype=object), size=len(m), p=[0.86, 0.12, 0.02])
    language[~inbound] = None  # intent_detections exist for inbound messages only (LEFT JOIN)
    messages = pd.DataFrame({
        "contact_id": ids[m],
        "channel": rng.choice(CHANNELS, size=len(m), p=[0.7, 0.15, 0.1, 0.05]),
        "direction": np.where(inbound, "inbound", "outbound"),
        "sent_at": stamps(m),
        "language": language,
    })
    o = rows_for(orders_per_contact)
    orders = pd.DataFrame({
        "contact_id": ids[o],
        "total": np.round(rng.lognormal(mean=3.6, sigma=0.9, size=len(o)), 2),
        "placed_at": stamps(o),
        "status": rng.choice(STATUSES, size=len(o), p=[0.45, 0.35, 0.08, 0.06, 0.03, 0.03]),
    })
    return messages, orders


# ------------------------------------------------------------------------------------------------ the run


class Stages:
    """Wall time, peak RSS so far, current RSS and (optionally) the Python-heap peak of each stage."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.rows: dict[str, dict[str, float]] = {}

    def run(self, name: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.trace:
            tracemalloc.reset_peak()
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds = time.perf_counter() - started
        row = {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "rss_mb": current_rss_mb()}
        if self.trace:
            row["python_heap_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        self.rows[name] = row
        return out


def run_dedup(clean: pd.DataFrame, threshold: float, exact_keys: list[str], engine_options: dict,
              timeline: list) -> tuple:
    """As the contact_clusters asset: junk rows stay singletons, the rest through the engine."""
    junk_mask = clean["is_junk"].astype(bool).to_numpy()
    frame = clean.loc[~junk_mask, ["contact_id", *DEDUP_FIELDS]].copy()

    def progress(stage: str, done: int, total: int) -> None:
        timeline.append((stage, time.perf_counter(), peak_rss_mb(), current_rss_mb()))

    timeline.append(("prepare", time.perf_counter(), peak_rss_mb(), current_rss_mb()))
    result = deduplicate(frame, "contact_id", DEDUP_FIELDS, threshold=threshold, exact_keys=exact_keys,
                         progress=progress, **engine_options)
    clusters = result.clusters.rename(columns={"id": "contact_id", "cluster_id": "golden_id"})
    junk = clean.loc[junk_mask, ["contact_id"]].assign(golden_id=lambda f: f["contact_id"],
                                                        match_probability=np.nan)
    clusters = pd.concat([clusters, junk], ignore_index=True)
    return result, clusters


def dedup_substages(timeline: list, finished: float) -> list[dict[str, float | str]]:
    marks = [*timeline, ("end", finished, peak_rss_mb(), current_rss_mb())]
    out = []
    for (name, start, _, _), (_, end, peak, rss) in zip(marks, marks[1:]):
        if name == "done":
            name = "junk singletons appended"
        elif name == "prepare":
            name = "junk filter + frame"
        else:
            name = f"engine: {name}"
        out.append({"stage": name, "seconds": end - start, "peak_rss_mb": peak, "rss_mb": rss})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--duplicate-share", type=float, default=0.15)
    parser.add_argument("--messages", type=float, default=3.0, help="messages per contact, on average")
    parser.add_argument("--orders", type=float, default=0.6, help="orders per contact, on average")
    parser.add_argument("--exact-keys", nargs="*", default=EXACT_KEYS, choices=EXACT_KEYS,
                        help="columns trusted as exact links (default both, as the asset; none: model only)")
    parser.add_argument("--comparison-budget", type=int, default=None,
                        help="engine: max pairs one blocking rule may give (default max(50,000, 30 x rows))")
    parser.add_argument("--u-max-pairs", type=float, default=2e6, help="engine: random pairs sampled for u")
    parser.add_argument("--threads", type=int, default=None,
                        help="engine: DuckDB threads (default: all cores)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also record Python-heap peaks per stage (slower; not for the timings)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    baseline_mb = peak_rss_mb()
    if args.tracemalloc:
        tracemalloc.start()

    started = time.perf_counter()
    raw, true_pairs = dirty_contacts(args.rows, seed=args.seed, duplicate_share=args.duplicate_share)
    messages, orders = synthetic_activity(raw, args.seed, args.messages, args.orders)
    generate_s = time.perf_counter() - started
    generate_peak = peak_rss_mb()
    console.print(f"input: {len(raw):,} contacts, {len(true_pairs):,} true pairs, {len(messages):,} "
                  f"messages, {len(orders):,} orders, generated in {generate_s:.1f} s (not counted)")

    stages = Stages(args.tracemalloc)
    clean = stages.run("clean", clean_contacts, raw, default_region="PA")
    engine_options = {"u_max_pairs": args.u_max_pairs}
    if args.comparison_budget:
        engine_options["comparison_budget"] = args.comparison_budget
    if args.threads:
        engine_options["threads"] = args.threads
    timeline: list = []
    result, clusters = stages.run("dedup", run_dedup, clean, args.threshold, args.exact_keys, engine_options,
                                  timeline)
    substages = dedup_substages(timeline, timeline[0][1] + stages.rows["dedup"]["seconds"])
    enriched = stages.run("enrich", enrich_contacts, clean, messages, orders, now=NOW, id_column="contact_id")
    total_s = sum(row["seconds"] for row in stages.rows.values())
    peak_mb = peak_rss_mb()

    # quality (not timed)
    cluster_pairs = pairs_from_clusters(clusters, "contact_id", "golden_id")
    on_clusters = pairwise_scores(cluster_pairs, true_pairs)
    links = result.links()
    on_links = pairwise_scores(zip(links["id_l"], links["id_r"]), true_pairs)
    junk_ids = set(clean.loc[clean["is_junk"].astype(bool), "contact_id"])
    pairs_touching_junk = sum(1 for a, b in true_pairs if a in junk_ids or b in junk_ids)
    n_clusters = int(clusters["golden_id"].nunique())
    entity = _entities(true_pairs)
    true_entities = len(raw) - sum(1 for row, rep in entity.items() if row != rep)
    truth_mask = [(a, b) in true_pairs for a, b in zip(links["id_l"], links["id_r"])]
    by_source = links.assign(true=truth_mask).groupby("source")["true"].agg(["sum", "count"])
    links_by_source = {str(k): {"true": int(r["sum"]), "false": int(r["count"] - r["sum"])}
                       for k, r in by_source.iterrows()}
    shared = {column: shared_values(clean, column, entity) for column in EXACT_KEYS}
    sizes = clusters.groupby("golden_id").size()

    summary = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "args": vars(args),
        "rows": len(raw), "true_pairs": len(true_pairs), "messages": len(messages), "orders": len(orders),
        "junk_rows": len(junk_ids), "true_pairs_touching_junk_rows": pairs_touching_junk,
        "generate_seconds": generate_s, "baseline_rss_mb": baseline_mb,
        "after_generate_peak_rss_mb": generate_peak,
        "stages": stages.rows, "dedup_substages": substages,
        "total_seconds": total_s, "peak_rss_mb": peak_mb,
        "budget": {"seconds": BUDGET_SECONDS, "mb": BUDGET_MB,
                   "met": total_s < BUDGET_SECONDS and peak_mb < BUDGET_MB},
        "clusters": n_clusters, "true_entities": true_entities,
        "merged_rows": int((clusters["contact_id"] != clusters["golden_id"]).sum()),
        "dedup": {
            "scored_pairs": len(result.pairs), "links": len(links), "links_by_source": links_by_source,
            "exact_keys": args.exact_keys, "largest_clusters": sizes.nlargest(5).tolist(),
            "key_values_shared_by_different_people": shared,
            "blocking_rules": result.blocking_rules, "training_rules": result.training_rules,
            "candidate_pairs_upper_bound": result.candidate_pairs_upper_bound,
            "probability_two_random_records_match": result.probability_two_random_records_match,
            "em_errors": result.model.get("em_errors", []), "engine_seconds": result.seconds,
            "clusters_pairwise": on_clusters.as_dict(), "links_pairwise": on_links.as_dict(),
        },
        "enriched_columns": len(enriched.columns),
    }

    table = Table(title=f"clean + dedup + enrich, {len(raw):,} contacts, seed {args.seed}, "
                        f"threshold {args.threshold}, {os.cpu_count()} cores")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("peak RSS MB (so far)", justify="right")
    table.add_column("RSS MB after", justify="right")
    if args.tracemalloc:
        table.add_column("Python heap peak MB", justify="right")
    for name, row in stages.rows.items():
        cells = [name, f"{row['seconds']:.1f}", f"{row['peak_rss_mb']:.0f}", f"{row['rss_mb']:.0f}"]
        if args.tracemalloc:
            cells.append(f"{row['python_heap_peak_mb']:.0f}")
        table.add_row(*cells, style="bold" if name == "dedup" else None)
        if name == "dedup":
            for sub in substages:
                cells = [f"  {sub['stage']}", f"{sub['seconds']:.1f}", f"{sub['peak_rss_mb']:.0f}",
                         f"{sub['rss_mb']:.0f}"]
                table.add_row(*cells, *([""] if args.tracemalloc else []), style="dim")
    table.add_row("total (clean + dedup + enrich)", f"{total_s:.1f}", f"{peak_mb:.0f}", "",
                  *([""] if args.tracemalloc else []), style="bold")
    console.print(table)

    facts = Table(show_header=False)
    facts.add_column("measure")
    facts.add_column("value", justify="right")
    verdict = "met" if summary["budget"]["met"] else "NOT met"
    for label, value in (
        ("rows / junk rows (singletons)", f"{len(raw):,} / {len(junk_ids):,}"),
        ("true pairs (touching junk-flagged rows)", f"{len(true_pairs):,} ({pairs_touching_junk:,})"),
        ("clusters (true entities)", f"{n_clusters:,} ({true_entities:,})"),
        ("blocking rules / candidate pairs (upper bound)",
         f"{len(result.blocking_rules)} / {result.candidate_pairs_upper_bound:,}"),
        ("EM training rules", str(len(result.training_rules))),
        ("scored pairs >= 0.01 / links >= threshold", f"{len(result.pairs):,} / {len(links):,}"),
        ("precision / recall / F1 (clusters)",
         f"{on_clusters.precision:.4f} / {on_clusters.recall:.4f} / {on_clusters.f1:.4f}"),
        ("precision / recall / F1 (links)",
         f"{on_links.precision:.4f} / {on_links.recall:.4f} / {on_links.f1:.4f}"),
        *((f"links from {kind}: true / false", f"{v['true']:,} / {v['false']:,}")
          for kind, v in links_by_source.items()),
        ("largest clusters", ", ".join(str(x) for x in sizes.nlargest(5).tolist())),
        *((f"{column} values given to > 1 planted person (rows, pairs)",
           f"{v['values']:,} ({v['rows']:,}, {v['pairs']:,})") for column, v in shared.items()),
        ("peak RSS MB (interpreter + libraries at start)", f"{peak_mb:.0f} ({baseline_mb:.0f})"),
        (f"budget < {BUDGET_SECONDS:.0f} s and < {BUDGET_MB:.0f} MB", verdict),
    ):
        facts.add_row(label, value)
    console.print(facts)

    if not args.no_json:
        out = ROOT / "bench" / "results" / f"contacts-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(summary, indent=2, default=str))
        console.print(f"written to {out.relative_to(ROOT)}")


def _entities(pairs: set[tuple[str, str]]) -> dict[str, str]:
    """Planted entity (a representative id) of every row in a true pair (union-find); other rows are alone."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    return {x: find(x) for x in parent}


def shared_values(clean: pd.DataFrame, column: str, entity: dict[str, str]) -> dict[str, int]:
    """Values of ``column`` that the generator gave to more than one planted person: an exact key on it links
    different people."""
    people = clean["contact_id"].map(lambda c: entity.get(c, c))
    frame = pd.DataFrame({"value": clean[column], "entity": people})
    frame = frame[~clean["is_junk"].astype(bool).to_numpy()].dropna()
    per = frame.groupby("value").agg(rows=("entity", "size"), people=("entity", "nunique"))
    shared = per[per["people"] > 1]
    return {"values": len(shared), "rows": int(shared["rows"].sum()),
            "pairs": int((shared["rows"] * (shared["rows"] - 1) // 2).sum()),
            "largest": int(shared["rows"].max()) if len(shared) else 0}

if __name__ == "__main__":
    main()
