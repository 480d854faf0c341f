"""Dirty Latin-American contacts with steeply uneven names: the model must not link namesakes (the prior match
rate comes from verified identifiers, and common surnames count for less)."""

from __future__ import annotations

from ml.contacts.clean import clean_contacts
from ml.contacts.synthetic import dirty_contacts
from ml.dedup.engine import deduplicate
from ml.dedup.evaluate import pairs_from_clusters, pairwise_scores

FIELDS = {"first_name_clean": "first_name", "last_name_clean": "last_name", "phone_e164": "phone",
          "email_normalized": "email", "city_clean": "city"}


def test_namesakes_stay_apart_on_a_realistic_dirty_list() -> None:
    raw, truth = dirty_contacts(3000, seed=11)
    clean = clean_contacts(raw, default_region="PA")
    candidates = clean[~clean["is_junk"]][["contact_id", *FIELDS]]
    result = deduplicate(candidates, "contact_id", FIELDS, threshold=0.9, exact_keys=["phone_e164",
                                                                                      "email_normalized"])
    scores = pairwise_scores(pairs_from_clusters(result.clusters), truth)
    assert scores.precision >= 0.9 and scores.recall >= 0.85, scores
    assert result.probability_two_random_records_match < 0.01
