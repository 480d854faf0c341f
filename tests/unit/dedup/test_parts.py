from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.dedup.clusters import cluster_pairs, cluster_rows
from ml.dedup.evaluate import canonical_pairs, pairs_from_clusters, pairwise_scores
from ml.dedup.roles import (
    UnknownRoleError,
    make_phone_normaliser,
    normalise_address,
    normalise_date,
    normalise_email,
    normalise_name,
    parse_role,
)


def test_clusters_are_connected_components_at_the_threshold() -> None:
    rep, best = cluster_rows(6, np.array([0, 1, 3, 4]), np.array([1, 2, 4, 5]), np.array([0.95, 0.91, 0.5, 0.99]),
                             threshold=0.9)
    assert rep.tolist() == [0, 0, 0, 3, 4, 4]  # 0-1-2 chained, 3-4 below threshold, 4-5 linked
    assert best[:3].tolist() == [0.95, 0.95, 0.91]
    assert np.isnan(best[3])
    assert best[4:].tolist() == [0.99, 0.99]


def test_cluster_pairs_names_clusters_after_their_first_row() -> None:
    pairs = pd.DataFrame({"id_l": ["z", "y"], "id_r": ["x", "x"], "match_probability": [0.97, 0.92]})
    out = cluster_pairs(pairs, pd.Series(["x", "y", "z", "w"]), threshold=0.9)
    assert out["cluster_id"].tolist() == ["x", "x", "x", "w"]
    assert out["match_probability"].tolist()[:3] == [0.97, 0.92, 0.97]
    assert np.isnan(out["match_probability"].iloc[3])


def test_pairwise_scores() -> None:
    scores = pairwise_scores([("a", "b"), ("c", "b"), ("a", "a")], [("b", "a"), ("d", "e")])
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (1, 1, 1)
    assert scores.precision == 0.5 and scores.recall == 0.5 and scores.f1 == 0.5
    assert pairwise_scores([], [("a", "b")]).f1 == 0.0


def test_pairs_from_clusters_is_the_transitive_closure() -> None:
    clusters = pd.DataFrame({"id": [1, 2, 3, 4], "cluster_id": [1, 1, 1, 4]})
    assert pairs_from_clusters(clusters) == canonical_pairs([(1, 2), (1, 3), (2, 3)])


def test_normalisers() -> None:
    phone = make_phone_normaliser("MX")
    assert phone("55 1234 5678") == phone("+52 (55) 1234-5678") == "+525512345678"
    assert make_phone_normaliser(None)("0044 20 7946 0018") == "00442079460018"
    assert phone("") is None and phone(None) is None
    assert normalise_email(" María.G@Example.COM ") == "maria.g@example.com"
    assert normalise_email("not an email") is None
    assert normalise_date("1985-03-14") == normalise_date("14/03/1985") == normalise_date("19850314") == "19850314"
    assert normalise_date("19851314") == "19851314"  # a typo'd date is kept: still evidence
    assert normalise_date(float("nan")) is None
    assert normalise_name("  José-Luis  O'Neil ") == "jose luis o neil"
    assert normalise_address("12 Main St.") == "12 main street"


def test_unknown_role() -> None:
    assert parse_role(" Email ") == "email"
    with pytest.raises(UnknownRoleError, match="roles are: first_name"):
        parse_role("surname")
