"""Data-quality predicates over cleaned contacts, for Dagster asset checks.

Each returns (passed, metrics); metrics are plain JSON-able numbers and short lists, fit for check metadata.
Plain pandas: Great Expectations is not a dependency of this project. Emails in metrics are masked.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ml.contacts.emails import looks_like_email, mask_email


def _provided(series: pd.Series) -> pd.Series:
    return series.notna() & (series.astype(str).str.strip() != "")


def contacts_have_valid_phones(
    df: pd.DataFrame, min_share: float = 0.8, phone_column: str = "phone", exclude_junk: bool = True
) -> tuple[bool, dict[str, Any]]:
    """At least `min_share` of the contacts that gave a phone have a valid one (junk rows left out by default).

    An empty frame passes; a frame where nobody gave a phone fails (share 0)."""
    rows = df if not (exclude_junk and "is_junk" in df.columns) else df[~df["is_junk"].astype(bool)]
    if phone_column in rows.columns:
        given = _provided(rows[phone_column]) | rows["phone_valid"].astype(bool)
    else:
        given = pd.Series(True, index=rows.index)
    with_phone = int(given.sum())
    valid = int((rows["phone_valid"].astype(bool) & given).sum())
    share = valid / with_phone if with_phone else (1.0 if len(rows) == 0 else 0.0)
    metrics = {
        "rows": int(len(df)),
        "rows_checked": int(len(rows)),
        "with_phone": with_phone,
        "valid_phones": valid,
        "valid_share": round(share, 4),
        "min_share": min_share,
    }
    return share >= min_share, metrics


def emails_are_well_formed(
    df: pd.DataFrame, min_share: float = 0.95, exclude_junk: bool = True
) -> tuple[bool, dict[str, Any]]:
    """Every email marked valid really has an address shape (a consistency check on the cleaning), and at least
    `min_share` of the emails given are valid."""
    rows = df if not (exclude_junk and "is_junk" in df.columns) else df[~df["is_junk"].astype(bool)]
    normalized = rows["email_normalized"]
    given = _provided(normalized)
    valid = rows["email_valid"].astype(bool)
    marked_valid = normalized[valid]
    malformed = [e for e in marked_valid.tolist() if not looks_like_email(e) or e != e.strip().lower()]
    with_email = int(given.sum())
    n_valid = int((valid & given).sum())
    share = n_valid / with_email if with_email else 1.0
    invalid_examples = [mask_email(str(e)) for e in normalized[given & ~valid].head(5).tolist()]
    metrics = {
        "rows_checked": int(len(rows)),
        "with_email": with_email,
        "valid_emails": n_valid,
        "valid_share": round(share, 4),
        "min_share": min_share,
        "valid_but_malformed": len(malformed),
        "invalid_examples": invalid_examples,
    }
    return (not malformed) and share >= min_share, metrics


def contact_ids_are_unique(df: pd.DataFrame, id_column: str = "contact_id") -> tuple[bool, dict[str, Any]]:
    """No missing and no repeated contact id."""
    if id_column not in df.columns:
        return False, {"rows": int(len(df)), "error": f"no column {id_column!r}"}
    ids = df[id_column]
    missing = int(ids.isna().sum())
    repeated = ids[ids.duplicated(keep=False) & ids.notna()]
    metrics = {
        "rows": int(len(df)),
        "missing_ids": missing,
        "duplicated_ids": int(repeated.nunique()),
        "duplicated_rows": int(len(repeated)),
        "examples": [str(v) for v in repeated.drop_duplicates().head(5).tolist()],
    }
    return missing == 0 and repeated.empty, metrics
