"""From clusters to golden records: which value of a cluster survives, and the manual unmerges that override
the model. Pure pandas; the Dagster asset reads and writes the tables.

Survivorship, per field: verified values first (a valid phone / email), then the most trusted source, then the
most recently seen record. Names come from the record that wins the same way on having a name at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

# Who we believe most: data the customer confirmed in a purchase, then the channels they write from.
SOURCE_TRUST: Mapping[str, int] = {"commerce": 4, "whatsapp": 3, "messenger": 2, "instagram": 2, "facebook": 1}
GOLDEN_FIELDS: dict[str, str | None] = {  # field -> the column saying it is verified (None: present is enough)
    "phone_e164": "phone_valid",
    "email_normalized": "email_valid",
    "first_name_clean": None,
    "last_name_clean": None,
    "city_clean": None,
    "country_code": None,
}


def apply_unmerges(clusters: pd.DataFrame, unmerged_contact_ids: Iterable[int]) -> pd.DataFrame:
    """Contacts a person split apart stay their own golden record, whatever the model says next time. Members
    of their former cluster that remain together get the smallest remaining id as golden id."""
    split = set(int(i) for i in unmerged_contact_ids)
    if not split:
        return clusters
    out = clusters.copy()
    touched = out["golden_id"].isin(out.loc[out["contact_id"].isin(split), "golden_id"])
    out.loc[out["contact_id"].isin(split), "golden_id"] = out.loc[out["contact_id"].isin(split), "contact_id"]
    out.loc[out["contact_id"].isin(split), "match_probability"] = None
    rest = touched & ~out["contact_id"].isin(split)
    if rest.any():
        new_golden = out.loc[rest].groupby("golden_id")["contact_id"].transform("min")
        out.loc[rest, "golden_id"] = new_golden
        alone = rest & (out.groupby("golden_id")["contact_id"].transform("size") == 1)
        out.loc[alone, "match_probability"] = None
    return out


def golden_records(clean: pd.DataFrame, clusters: pd.DataFrame,
                   trust: Mapping[str, int] = SOURCE_TRUST) -> pd.DataFrame:
    """One row per golden id with the surviving value of each field, the member count and the sources."""
    frame = clean.merge(clusters[["contact_id", "golden_id"]], on="contact_id", how="inner")
    frame["_trust"] = frame.get("source_channel", pd.Series(index=frame.index, dtype=object)).map(trust).fillna(0)
    seen = frame["last_seen_at"] if "last_seen_at" in frame.columns else frame.get("created_at")
    frame["_seen"] = pd.to_datetime(seen, utc=True, errors="coerce") if seen is not None else pd.NaT
    golden = frame.groupby("golden_id").agg(
        member_count=("contact_id", "size"),
        contact_ids=("contact_id", lambda ids: ";".join(str(i) for i in sorted(ids))),
        sources=("source_channel", lambda s: ";".join(sorted({str(v) for v in s.dropna()})))
        if "source_channel" in frame.columns else ("contact_id", lambda ids: ""),
        first_seen_at=("_seen", "min"), last_seen_at=("_seen", "max"))
    for field, verified in GOLDEN_FIELDS.items():
        if field not in frame.columns:
            continue
        present = frame[frame[field].notna() & (frame[field].astype(str).str.strip() != "")].copy()
        present["_verified"] = present[verified].astype(bool) if verified and verified in present.columns else True
        best = (present.sort_values(["golden_id", "_verified", "_trust", "_seen"],
                                    ascending=[True, False, False, False], na_position="last")
                .drop_duplicates("golden_id"))
        golden[field] = best.set_index("golden_id")[field]
    return golden.reset_index()
