"""Incremental dedup: contacts arriving after a full run are scored with its saved model against the clustered
ones and each other, and land in the clusters a full run would give them."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.contacts.clean import clean_contacts
from ml.contacts.synthetic import dirty_contacts
from ml.dedup.engine import DedupError, deduplicate
from ml.dedup.evaluate import pairs_from_clusters, pairwise_scores
from ml.dedup.incremental import fold_into_clusters, link_new_records

FIELDS = {"first_name_clean": "first_name", "last_name_clean": "last_name", "phone_e164": "phone",
          "email_normalized": "email", "city_clean": "city"}
EXACT = ["phone_e164", "email_normalized"]


@pytest.fixture(scope="module")
def contacts() -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    raw, truth = dirty_contacts(2000, seed=5)
    clean = clean_contacts(raw, default_region="PA")
    return clean[~clean["is_junk"]][["contact_id", *FIELDS]].reset_index(drop=True), truth


def test_new_contacts_join_the_clusters_a_full_run_gives(contacts) -> None:  # noqa: ANN001
    frame, truth = contacts
    old, new = frame.iloc[:1800], frame.iloc[1800:]
    first = deduplicate(old, "contact_id", FIELDS, threshold=0.9, exact_keys=EXACT)
    pairs = link_new_records(old, new, "contact_id", FIELDS, first.model["settings"], exact_keys=EXACT)
    assert set(pairs["source"]) >= {"model"}
    assert (pairs["id_l"].isin(set(new["contact_id"])) | pairs["id_r"].isin(set(new["contact_id"]))).all(), \
        "only pairs with a new contact are scored"
    folded = fold_into_clusters(first.clusters, list(new["contact_id"]), pairs, threshold=0.9)
    assert sorted(folded["id"]) == sorted(frame["contact_id"]), "every contact exactly once"

    full = deduplicate(frame, "contact_id", FIELDS, threshold=0.9, exact_keys=EXACT)
    incremental = pairwise_scores(pairs_from_clusters(folded), truth)
    from_scratch = pairwise_scores(pairs_from_clusters(full.clusters), truth)
    assert incremental.recall >= from_scratch.recall - 0.03 and incremental.precision >= 0.9, \
        (incremental, from_scratch)
    new_truth = {p for p in truth if set(p) & set(new["contact_id"]) and set(p) <= set(frame["contact_id"])}
    found = {p for p in pairs_from_clusters(folded) if p in new_truth}
    assert len(found) >= 0.85 * len(new_truth), (len(found), len(new_truth))


def test_old_clusters_are_kept_and_a_new_contact_can_join_two(contacts) -> None:  # noqa: ANN001
    clusters = pd.DataFrame({"id": [1, 2, 3, 4], "cluster_id": [1, 1, 3, 4], "match_probability": [0.97, 0.97,
                                                                                                   None, None]})
    pairs = pd.DataFrame({"id_l": [2, 3, 4], "id_r": [5, 5, 6], "match_probability": [0.95, 0.99, 0.2],
                          "source": ["model"] * 3})
    folded = fold_into_clusters(clusters, [5, 6], pairs, threshold=0.9)
    golden = dict(zip(folded["id"], folded["cluster_id"], strict=True))
    assert golden == {1: 1, 2: 1, 3: 1, 4: 4, 5: 1, 6: 6}
    best = dict(zip(folded["id"], folded["match_probability"], strict=True))
    assert best[1] == 0.97 and best[3] == 0.99 and best[5] == 0.99 and pd.isna(best[6])


def test_ids_in_both_sets_are_refused(contacts) -> None:  # noqa: ANN001
    frame, _ = contacts
    model = deduplicate(frame.iloc[:300], "contact_id", FIELDS).model["settings"]
    with pytest.raises(DedupError, match="both"):
        link_new_records(frame.iloc[:300], frame.iloc[250:320], "contact_id", FIELDS, model)
    empty = link_new_records(frame.iloc[:300], frame.iloc[0:0], "contact_id", FIELDS, model)
    assert list(empty.columns) == ["id_l", "id_r", "match_probability", "source"] and empty.empty
