"""clean_contacts / enrich_contacts / quality predicates on small dirty frames."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt
import pytest

from ml.contacts.clean import OUTPUT_COLUMNS, clean_contacts
from ml.contacts.enrich import enrich_contacts, rfm_segment
from ml.contacts.quality import contact_ids_are_unique, contacts_have_valid_phones, emails_are_well_formed
from ml.contacts.synthetic import dirty_contacts

NOW = "2025-06-30T00:00:00Z"


@pytest.fixture
def dirty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contact_id": ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"],
            "first_name": ["MARÍA JOSÉ", "juan carlos", "Test", None, "x", "Luis Alberto De León", None, "Ana"],
            "last_name": ["garcía lópez", "pérez", "User", None, None, None, None, "Ruíz"],
            "full_name": [None, None, None, None, None, None, "Carmen Sofía Núñez", None],
            "phone": ["6123-4567", "+507 223-4567", "00000000", None, "6987-65", "(507) 6555-1234 ext. 4",
                      "55 1234 5678", "6123-4567"],
            "email": [" Maria@GMAIL.com", "juan@gmial.com", "test@example.com", None, "bad", "luis@ferreteria.com.pa",
                      "carmen@hotmail.com", "ana@cableonda.net"],
            "country": ["Panamá", "PANAMA", None, "España", "", "pa", "México", "Narnia"],
            "city": ["ciudad de panama", "david chiriqui", "", "Madrid", None, "Chitré", "cdmx", "panama city"],
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )


def test_every_row_is_kept_with_its_index_and_raw_columns(dirty: pd.DataFrame) -> None:
    out = clean_contacts(dirty)
    assert list(out.index) == list(dirty.index)
    pdt.assert_frame_equal(out[dirty.columns], dirty)
    assert set(OUTPUT_COLUMNS) <= set(out.columns)


def test_cleaned_values(dirty: pd.DataFrame) -> None:
    out = clean_contacts(dirty).set_index("contact_id")
    assert out.loc["c1", ["phone_e164", "phone_type", "phone_country"]].tolist() == ["+50761234567", "mobile", "PA"]
    assert out.loc["c1", ["first_name_clean", "last_name_clean"]].tolist() == ["María José", "García López"]
    assert out.loc["c1", ["email_normalized", "email_free", "email_domain"]].tolist() == [
        "maria@gmail.com", True, "gmail.com"]
    assert out.loc["c1", ["country_code", "city_clean"]].tolist() == ["PA", "Panamá"]
    assert out.loc["c2", "phone_type"] == "fixed_line"
    assert out.loc["c2", "email_suggestion"] == "juan@gmail.com"
    assert out.loc["c2", "email_normalized"] == "juan@gmial.com"  # flagged, not silently fixed
    assert out.loc["c2", "city_clean"] == "David"
    assert out.loc["c6", ["first_name_clean", "last_name_clean"]].tolist() == ["Luis Alberto", "De León"]
    assert out.loc["c6", "phone_extension"] == "4"
    assert bool(out.loc["c6", "email_free"]) is False
    assert out.loc["c7", ["first_name_clean", "last_name_clean"]].tolist() == ["Carmen Sofía", "Núñez"]
    # The row says México: its local number is read as Mexican.
    assert out.loc["c7", ["phone_e164", "country_code", "city_clean"]].tolist() == [
        "+525512345678", "MX", "Ciudad de México"]
    # An unknown country falls back to the phone's.
    assert out.loc["c8", ["country_code", "country_source"]].tolist() == ["PA", "phone"]
    assert out.loc["c5", "phone_valid"] == False  # noqa: E712
    assert out.loc["c5", "email_valid"] == False  # noqa: E712


def test_junk_rows_are_flagged_with_reasons_not_dropped(dirty: pd.DataFrame) -> None:
    out = clean_contacts(dirty).set_index("contact_id")
    reasons = out.loc["c3", "junk_reasons"].split(";")
    assert {"test_name", "test_email", "placeholder_email", "repeated_digits_phone"} <= set(reasons)
    assert out.loc["c3", "is_junk"]
    assert "one_letter_name" in out.loc["c5", "junk_reasons"]
    assert out.loc[["c1", "c2", "c6", "c7", "c8"], "is_junk"].tolist() == [False] * 5
    assert out.loc["c1", "junk_reasons"] == ""
    assert not out.loc["c4", "is_junk"] and not out.loc["c4", "reachable"]  # empty is not junk, just unreachable


def test_cleaning_twice_gives_the_same_result(dirty: pd.DataFrame) -> None:
    once = clean_contacts(dirty)
    pdt.assert_frame_equal(clean_contacts(once), once)


def test_cleaned_values_are_fixed_points(dirty: pd.DataFrame) -> None:
    once = clean_contacts(dirty)
    again = clean_contacts(
        pd.DataFrame(
            {
                "contact_id": once["contact_id"],
                "first_name": once["first_name_clean"],
                "last_name": once["last_name_clean"],
                "phone": once["phone_e164"],
                "email": once["email_normalized"],
                "country": once["country_code"],
                "city": once["city_clean"],
            }
        )
    )
    for column in ("phone_e164", "email_normalized", "first_name_clean", "last_name_clean", "country_code",
                   "city_clean"):
        assert again[column].tolist() == once[column].tolist(), column


def test_region_default_is_configurable() -> None:
    frame = pd.DataFrame({"contact_id": [1], "phone": ["55 1234 5678"]})
    assert clean_contacts(frame)["phone_valid"].tolist() == [False]
    assert clean_contacts(frame, default_region="MX")["phone_e164"].tolist() == ["+525512345678"]


def test_enrichment_from_phone_email_messages_and_orders(dirty: pd.DataFrame) -> None:
    cleaned = clean_contacts(dirty)
    messages = pd.DataFrame(
        {
            "contact_id": ["c1", "c1", "c1", "c2", "c7"],
            "channel": ["whatsapp", "instagram", "whatsapp", "messenger", "whatsapp"],
            "direction": ["inbound", "inbound", "outbound", "inbound", "outbound"],
            "sent_at": ["2025-02-01T10:00:00Z", "2025-05-01T10:00:00Z", "2025-06-01T00:00:00Z",
                        "2024-12-01T00:00:00Z", "2025-06-01T00:00:00Z"],
            "language": ["es", "es", "en", "en", "es"],
        }
    )
    orders = pd.DataFrame(
        {
            "contact_id": ["c1", "c1", "c2", "c2", "c6"] + ["c8"] * 6,
            "total": [100, 250.5, 80, 999, 20] + [300] * 6,
            "placed_at": ["2025-06-01", "2025-06-20", "2024-01-01", "2024-02-01", "2025-04-15"] + ["2025-06-25"] * 6,
            "status": ["paid", "delivered", "paid", "cancelled", "paid"] + ["paid"] * 6,
        }
    )
    out = enrich_contacts(cleaned, messages, orders, now=NOW).set_index("contact_id")
    assert list(out.index) == list(dirty["contact_id"])

    assert out.loc["c1", ["phone_region_desc", "phone_carrier", "phone_time_zone"]].tolist() == [
        "Panamá", "Digicel", "America/Panama"]
    assert out.loc["c7", "phone_time_zones"] == "America/Mexico_City"
    assert out.loc["c1", "email_kind"] == "free"
    assert out.loc["c2", "email_kind"] == "free_typo"
    assert out.loc["c6", ["email_kind", "company_domain"]].tolist() == ["company", "ferreteria.com.pa"]

    assert out.loc["c1", ["channels", "languages", "primary_language"]].tolist() == ["instagram;whatsapp", "en;es", "es"]
    assert out.loc["c1", ["message_count", "inbound_count", "outbound_count"]].tolist() == [3, 2, 1]
    assert out.loc["c1", "first_seen_at"] == pd.Timestamp("2025-02-01T10:00:00Z")
    assert out.loc["c1", "last_seen_at"] == pd.Timestamp("2025-05-01T10:00:00Z")  # inbound only
    assert pd.isna(out.loc["c7", "last_seen_at"])  # we wrote to them; they never wrote back
    assert out.loc["c3", "channels"] == "" and out.loc["c3", "message_count"] == 0

    assert out.loc["c1", ["order_count", "revenue", "recency_days"]].tolist() == [2, 350.5, 10]
    assert out.loc["c2", ["order_count", "revenue"]].tolist() == [1, 80.0]  # the cancelled order does not count
    assert out.loc["c8", "rfm_segment"] == "champion"
    assert out.loc["c2", "rfm_segment"] == "lost"
    assert out.loc["c6", "rfm_segment"] == "needs_attention"  # 76 days ago, one small order
    assert out.loc["c3", "rfm_segment"] == "prospect" and pd.isna(out.loc["c3", "r_score"])


def test_enrichment_without_messages_or_orders_keeps_every_contact(dirty: pd.DataFrame) -> None:
    out = enrich_contacts(clean_contacts(dirty), now=NOW)
    assert len(out) == len(dirty)
    assert (out["rfm_segment"] == "prospect").all()
    assert (out["order_count"] == 0).all() and (out["message_count"] == 0).all()


@pytest.mark.parametrize(
    ("scores", "segment"),
    [((5, 5, 5), "champion"), ((3, 3, 3), "loyal"), ((5, 1, 1), "new_customer"), ((3, 1, 2), "needs_attention"),
     ((2, 4, 4), "at_risk"), ((1, 5, 5), "at_risk"), ((2, 1, 1), "hibernating"), ((1, 1, 2), "lost")],
)
def test_rfm_segment_rules(scores: tuple[int, int, int], segment: str) -> None:
    assert rfm_segment(*scores) == segment


def test_quality_predicates(dirty: pd.DataFrame) -> None:
    cleaned = clean_contacts(dirty)
    passed, metrics = contacts_have_valid_phones(cleaned, min_share=0.8)
    # Junk rows (c3, c5) are left out and c4 gave no phone: 5 phones, all valid.
    assert (metrics["rows_checked"], metrics["with_phone"], metrics["valid_phones"]) == (6, 5, 5) and passed
    passed, metrics = contacts_have_valid_phones(cleaned, min_share=0.8, exclude_junk=False)
    assert (metrics["with_phone"], metrics["valid_phones"]) == (7, 5) and not passed

    passed, metrics = emails_are_well_formed(cleaned, min_share=0.8, exclude_junk=False)
    assert (metrics["with_email"], metrics["valid_emails"]) == (7, 6) and passed
    assert metrics["invalid_examples"] == ["b***"]
    assert emails_are_well_formed(cleaned, min_share=0.9, exclude_junk=False)[0] is False
    broken = cleaned.copy()
    broken.loc[broken["contact_id"] == "c5", "email_valid"] = True  # "bad" marked valid
    assert emails_are_well_formed(broken, min_share=0.0, exclude_junk=False)[0] is False

    assert contact_ids_are_unique(cleaned) == (True, {"rows": 8, "missing_ids": 0, "duplicated_ids": 0,
                                                       "duplicated_rows": 0, "examples": []})
    doubled = pd.concat([cleaned, cleaned.iloc[[0]]])
    passed, metrics = contact_ids_are_unique(doubled)
    assert not passed and metrics["examples"] == ["c1"]


def test_synthetic_dirty_contacts_are_reproducible_and_carry_true_pairs() -> None:
    frame, pairs = dirty_contacts(600, seed=3, duplicate_share=0.2)
    again, pairs_again = dirty_contacts(600, seed=3, duplicate_share=0.2)
    pdt.assert_frame_equal(frame, again)
    assert pairs == pairs_again
    assert len(frame) == 600 and frame["contact_id"].is_unique
    ids = set(frame["contact_id"])
    assert pairs and all(a < b and a in ids and b in ids for a, b in pairs)
    assert len({c for pair in pairs for c in pair}) >= 0.2 * 600  # every duplicate is in at least one pair
    cleaned = clean_contacts(frame)
    assert len(cleaned) == 600
    assert 0.7 < cleaned["phone_valid"].mean() < 0.98
    assert 0 < cleaned["is_junk"].mean() < 0.05
    assert (cleaned["country_code"] == "PA").mean() > 0.8
    # A planted duplicate shares its phone or email with its partner more often than not.
    by_id = cleaned.set_index("contact_id")
    shared = sum(
        (by_id.at[a, "phone_e164"] is not None and by_id.at[a, "phone_e164"] == by_id.at[b, "phone_e164"])
        or (by_id.at[a, "email_normalized"] is not None and by_id.at[a, "email_normalized"] == by_id.at[b, "email_normalized"])
        for a, b in pairs
    )
    assert shared / len(pairs) > 0.5
