"""Incremental deduplication: score only new records, against the existing ones and each other, with a model
trained by an earlier full run (`DedupResult.model["settings"]`), then fold the links into the existing clusters.

The expensive parts of a full run (training, and scoring existing × existing pairs) are skipped; Splink's
`predict_between` (existing × new) and `predict_within` (new × new) do the scoring, on the same blocking rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ml.dedup.clusters import cluster_pairs
from ml.dedup.engine import (DedupError, exact_pairs, normalised_frame, parse_fields, quiet_splink)
from ml.dedup.roles import Role

PAIR_COLUMNS = ["id_l", "id_r", "match_probability", "source"]


def _tf_columns(settings: Mapping[str, Any]) -> set[str]:
    return {level["tf_adjustment_column"] for comparison in settings.get("comparisons", [])
            for level in comparison.get("comparison_levels", []) if level.get("tf_adjustment_column")}


def link_new_records(
    existing: pd.DataFrame,
    new: pd.DataFrame,
    id_column: str,
    fields: Mapping[str, str | Role],
    model_settings: Mapping[str, Any],
    *,
    exact_keys: Sequence[str] = (),
    phone_region: str | None = None,
    min_pair_probability: float = 0.01,
) -> pd.DataFrame:
    """Scored pairs ``id_l, id_r, match_probability, source`` with at least one side in ``new``: new × existing
    and new × new, from the trained model, plus pairs sharing an exact key (probability 1). ``fields`` must be
    given in the order the model was trained with (its internal column names follow that order)."""
    if not len(new):
        return pd.DataFrame(columns=PAIR_COLUMNS)
    specs = parse_fields(new, id_column, fields)
    overlap = set(existing[id_column]) & set(new[id_column]) if len(existing) else set()
    if overlap:
        raise DedupError(f"ids in both the existing and the new records: {', '.join(map(str, sorted(overlap)[:5]))}")
    old_frame = normalised_frame(existing, specs, phone_region) if len(existing) else None
    new_frame = normalised_frame(new, specs, phone_region, first_unique_id=len(existing))
    both = pd.concat([f for f in (old_frame, new_frame) if f is not None], ignore_index=True)
    ids = pd.concat([existing[id_column], new[id_column]], ignore_index=True).to_numpy()

    import duckdb
    from splink import DuckDBAPI, Linker

    scored = []
    connection = duckdb.connect()
    try:
        with quiet_splink():
            db_api = DuckDBAPI(connection)
            everyone = db_api.register(both, table_name="dedup_all")
            linker = Linker(everyone, dict(model_settings), log_level=None)
            for column in _tf_columns(model_settings):  # term frequencies over all records, as a full run has
                linker.table_management.compute_tf_table(column)
            new_table = db_api.register(new_frame, table_name="dedup_new")
            runs = [linker.inference.predict_within(new_table, threshold_match_probability=min_pair_probability)]
            if old_frame is not None:
                old_table = db_api.register(old_frame, table_name="dedup_existing")
                runs.append(linker.inference.predict_between(old_table, new_table,
                                                             threshold_match_probability=min_pair_probability))
            for predictions in runs:
                scored.append(predictions.as_pandas_dataframe()[["unique_id_l", "unique_id_r",
                                                                 "match_probability"]].assign(source="model"))
    finally:
        connection.close()

    first_new = len(existing)
    for key in exact_keys:
        spec = next(s for s in specs if s.column == key)
        exact = exact_pairs(both, spec.name)
        exact = exact[(exact["unique_id_l"] >= first_new) | (exact["unique_id_r"] >= first_new)]
        scored.append(exact.assign(match_probability=1.0, source=f"exact:{key}"))
    pairs = pd.concat([p for p in scored if len(p)], ignore_index=True) if any(len(p) for p in scored) else None
    if pairs is None:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    lo = np.minimum(pairs["unique_id_l"], pairs["unique_id_r"]).astype(np.int64)
    hi = np.maximum(pairs["unique_id_l"], pairs["unique_id_r"]).astype(np.int64)
    pairs = (pairs.assign(unique_id_l=lo, unique_id_r=hi, match_probability=pairs["match_probability"].round(10))
             .sort_values(["unique_id_l", "unique_id_r", "match_probability"], ascending=[True, True, False],
                          kind="mergesort")
             .drop_duplicates(["unique_id_l", "unique_id_r"]))
    return pd.DataFrame({"id_l": ids[pairs["unique_id_l"].to_numpy()], "id_r": ids[pairs["unique_id_r"].to_numpy()],
                         "match_probability": pairs["match_probability"].to_numpy(),
                         "source": pairs["source"].to_numpy()})


def fold_into_clusters(clusters: pd.DataFrame, new_ids: Sequence[Any], pairs: pd.DataFrame,
                       threshold: float) -> pd.DataFrame:
    """Existing ``id, cluster_id, match_probability`` plus new ids and their links → the updated clusters.

    Existing clusters are kept whole (a new record may join two of them, as a full run would); every id is its
    cluster's smallest id in the order given (existing ids first, then the new ones in order), and a row's
    probability is its best link, old or new."""
    known = set(clusters["id"])
    order = pd.Series(list(clusters["id"]) + [i for i in new_ids if i not in known])
    kept = pairs[pairs["match_probability"] >= threshold]
    membership = pd.DataFrame({"id_l": clusters["cluster_id"], "id_r": clusters["id"], "match_probability": 1.0})
    edges = pd.concat([membership, kept[["id_l", "id_r", "match_probability"]]], ignore_index=True)
    ranked = order.sort_values(key=lambda s: s.map(_sort_key)).reset_index(drop=True)
    out = cluster_pairs(edges, ranked, threshold)
    best_new = pd.concat([kept.rename(columns={"id_l": "id", "id_r": "other"}),
                          kept.rename(columns={"id_r": "id", "id_l": "other"})]).groupby("id")["match_probability"].max()
    old = clusters.set_index("id")["match_probability"]
    out["match_probability"] = [_best(a, b) for a, b in zip(old.reindex(out["id"]).to_numpy(),
                                                            best_new.reindex(out["id"]).to_numpy(), strict=True)]
    return out


def _best(old: float | None, new: float | None) -> float:
    values = [v for v in (old, new) if v is not None and not pd.isna(v)]
    return max(values) if values else float("nan")


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, np.integer, float)) else (1, str(value))
