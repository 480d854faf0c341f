"""Pairwise precision / recall / F1 of predicted duplicate pairs against the true ones."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from itertools import combinations

import pandas as pd

Pair = tuple[Hashable, Hashable]


def canonical_pairs(pairs: Iterable[tuple[Hashable, Hashable]]) -> set[Pair]:
    """Unordered pairs as a set of ``(a, b)`` with ``a < b`` (by ``str`` when types differ); self-pairs dropped."""
    out: set[Pair] = set()
    for a, b in pairs:
        if a == b:
            continue
        try:
            out.add((a, b) if a < b else (b, a))  # type: ignore[operator]
        except TypeError:
            out.add((a, b) if str(a) < str(b) else (b, a))
    return out


def pairs_from_clusters(clusters: pd.DataFrame, id_column: str = "id", cluster_column: str = "cluster_id") -> set[Pair]:
    """Every pair of rows sharing a cluster (the transitive closure of the links)."""
    pairs: list[Pair] = []
    for _, members in clusters.groupby(cluster_column, sort=False)[id_column]:
        if len(members) > 1:
            pairs.extend(combinations(members.tolist(), 2))
    return canonical_pairs(pairs)


@dataclass(frozen=True)
class PairwiseScores:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "tp": self.true_positives,
                "fp": self.false_positives, "fn": self.false_negatives}


def pairwise_scores(predicted: Iterable[tuple[Hashable, Hashable]],
                    truth: Iterable[tuple[Hashable, Hashable]]) -> PairwiseScores:
    predicted_set, truth_set = canonical_pairs(predicted), canonical_pairs(truth)
    tp = len(predicted_set & truth_set)
    return PairwiseScores(tp, len(predicted_set) - tp, len(truth_set) - tp)
