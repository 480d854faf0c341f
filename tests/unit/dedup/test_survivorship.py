from __future__ import annotations

import pandas as pd

from ml.dedup.survivorship import apply_unmerges, golden_records


def test_verified_then_trusted_then_recent_values_survive() -> None:
    clean = pd.DataFrame({
        "contact_id": [1, 2, 3, 4],
        "source_channel": ["instagram", "whatsapp", "commerce", "whatsapp"],
        "last_seen_at": pd.to_datetime(["2026-11-20", "2026-11-01", "2026-10-01", "2026-11-25"], utc=True),
        "phone_e164": ["+50761111111", "+50762222222", "+50763333333", "+50764444444"],
        "phone_valid": [True, False, True, True],
        "email_normalized": [None, "ana@x.com", "ana.ruiz@empresa.pa", None],
        "email_valid": [False, True, True, False],
        "first_name_clean": ["Ana", "Ana Lucía", None, "Luis"],
        "last_name_clean": ["Ruiz", "Ruiz", None, "Gómez"],
    })
    clusters = pd.DataFrame({"contact_id": [1, 2, 3, 4], "golden_id": [1, 1, 1, 4]})
    golden = golden_records(clean, clusters).set_index("golden_id")
    ana = golden.loc[1]
    assert ana["member_count"] == 3 and ana["contact_ids"] == "1;2;3"
    assert ana["phone_e164"] == "+50763333333", "a valid phone from the most trusted source (a purchase)"
    assert ana["email_normalized"] == "ana.ruiz@empresa.pa"
    assert ana["first_name_clean"] == "Ana Lucía", "whatsapp outranks instagram for the name"
    assert ana["sources"] == "commerce;instagram;whatsapp"
    assert golden.loc[4, "first_name_clean"] == "Luis" and golden.loc[4, "member_count"] == 1


def test_an_unmerge_splits_the_contact_out_and_the_rest_stay_together() -> None:
    clusters = pd.DataFrame({"contact_id": [1, 2, 3, 7, 8], "golden_id": [1, 1, 1, 7, 7],
                             "match_probability": [0.99, 0.99, 0.95, 0.97, 0.97]})
    out = apply_unmerges(clusters, [1]).set_index("contact_id")
    assert out.loc[1, "golden_id"] == 1 and pd.isna(out.loc[1, "match_probability"])
    assert out.loc[2, "golden_id"] == 2 and out.loc[3, "golden_id"] == 2
    assert list(out.loc[[7, 8], "golden_id"]) == [7, 7], "other clusters untouched"
    alone = apply_unmerges(clusters, [7]).set_index("contact_id")
    assert alone.loc[8, "golden_id"] == 8 and pd.isna(alone.loc[8, "match_probability"])
