"""Clusters from scored pairs: connected components of the links at or above a threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cluster_rows(
    n_rows: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster rows ``0..n_rows-1`` linked by pairs (``left[i]``, ``right[i]``) with ``probability >= threshold``.

    Returns ``(representative, best)``: for each row, the row number of its cluster's representative (the
    cluster's first row in input order, so a singleton is its own representative), and its best link probability
    inside the cluster (NaN for a singleton). Every link kept joins two rows of the same cluster, and a row's links
    below the threshold are smaller than its kept link, so "best link in the cluster" is its best kept link.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    probability = np.asarray(probability, dtype=float)
    keep = probability >= threshold
    left, right, probability = left[keep], right[keep], probability[keep]

    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n_rows, n_rows))
    _, labels = connected_components(graph, directed=False)
    # representative = smallest row number of each component (the first row in input order)
    first_row = np.full(labels.max() + 1 if n_rows else 0, n_rows, dtype=np.int64)
    np.minimum.at(first_row, labels, np.arange(n_rows))
    representative = first_row[labels]

    best = np.full(n_rows, np.nan)
    if len(left):
        both = np.concatenate([left, right])
        values = np.concatenate([probability, probability])
        best_known = np.full(n_rows, -np.inf)
        np.maximum.at(best_known, both, values)
        linked = np.isfinite(best_known)
        best[linked] = best_known[linked]
    return representative, best


def cluster_pairs(pairs: pd.DataFrame, ids: pd.Series, threshold: float) -> pd.DataFrame:
    """``id, cluster_id, match_probability`` for every id, in input order, from pairs of ``id_l, id_r,
    match_probability``. ``cluster_id`` is the id of the cluster's first row; the probability is empty (NaN) for
    singletons."""
    ids = pd.Series(ids).reset_index(drop=True)
    position = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    left = position.reindex(pairs["id_l"]).to_numpy()
    right = position.reindex(pairs["id_r"]).to_numpy()
    if np.isnan(left.astype(float)).any() or np.isnan(right.astype(float)).any():
        raise ValueError("a pair refers to an id that is not in the id list")
    representative, best = cluster_rows(len(ids), left, right, pairs["match_probability"].to_numpy(), threshold)
    return pd.DataFrame({
        "id": ids.to_numpy(),
        "cluster_id": ids.to_numpy()[representative] if len(ids) else ids.to_numpy(),
        "match_probability": best,
    })
