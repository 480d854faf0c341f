"""Data-quality suites over cleaned contacts, run by Great Expectations; the Dagster asset checks call these.

Each returns (passed, metrics): the suite's verdict, and plain JSON-able numbers and short lists fit for check
metadata (emails masked). The suites run in an ephemeral GX context on the pandas frame: nothing is written to a
GX project folder, and GX's analytics are off.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from ml.contacts.emails import mask_email

# The shape an address must keep after cleaning (email-validator did the real check; this guards the cleaning).
EMAIL_SHAPE = r"^[^@\sA-Z]+@[^@\sA-Z]+\.[^@\sA-Z.]+$"  # one @, a dotted domain, no spaces or capitals


def run_suite(df: pd.DataFrame, name: str, expectations: list) -> tuple[bool, list]:
    """Validates `df` against the expectations; returns (all passed, GX's per-expectation results)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # 3 s to import: only when a check runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (context.data_sources.add_pandas(name).add_dataframe_asset(name)
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df}))
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    outcome = batch.validate(suite)
    return bool(outcome.success), list(outcome.results)


def _provided(series: pd.Series) -> pd.Series:
    return series.notna() & (series.astype(str).str.strip() != "")


def _checked_rows(df: pd.DataFrame, exclude_junk: bool) -> pd.DataFrame:
    return df if not (exclude_junk and "is_junk" in df.columns) else df[~df["is_junk"].astype(bool)]


def contacts_have_valid_phones(
    df: pd.DataFrame, min_share: float = 0.8, phone_column: str = "phone", exclude_junk: bool = True
) -> tuple[bool, dict[str, Any]]:
    """At least `min_share` of the contacts that gave a phone have a valid one (junk rows left out by default).

    An empty frame passes; a frame where nobody gave a phone fails (share 0)."""
    from great_expectations import expectations as gxe

    rows = _checked_rows(df, exclude_junk)
    given = (_provided(rows[phone_column]) if phone_column in rows.columns
             else pd.Series(True, index=rows.index)) | rows["phone_valid"].astype(bool)
    with_phone = rows.loc[given, ["phone_valid"]].astype(bool)
    passed, _ = run_suite(with_phone, "contacts_valid_phones", [
        gxe.ExpectColumnValuesToBeInSet(column="phone_valid", value_set=[True], mostly=min_share)])
    valid = int(with_phone["phone_valid"].sum())
    share = valid / len(with_phone) if len(with_phone) else (1.0 if len(rows) == 0 else 0.0)
    metrics = {"rows": int(len(df)), "rows_checked": int(len(rows)), "with_phone": int(len(with_phone)),
               "valid_phones": valid, "valid_share": round(share, 4), "min_share": min_share}
    return (passed and share >= min_share), metrics


def emails_are_well_formed(
    df: pd.DataFrame, min_share: float = 0.95, exclude_junk: bool = True
) -> tuple[bool, dict[str, Any]]:
    """Every email marked valid really has an address shape, lower-cased and trimmed (a consistency check on the
    cleaning), and at least `min_share` of the emails given are valid."""
    from great_expectations import expectations as gxe

    rows = _checked_rows(df, exclude_junk)
    given = rows.loc[_provided(rows["email_normalized"]), ["email_normalized", "email_valid"]].copy()
    given["email_valid"] = given["email_valid"].astype(bool)
    marked_valid = given.loc[given["email_valid"], ["email_normalized"]]
    shape_ok, shape_results = run_suite(marked_valid, "contacts_email_shape", [
        gxe.ExpectColumnValuesToMatchRegex(column="email_normalized", regex=EMAIL_SHAPE)])
    share_ok, _ = run_suite(given[["email_valid"]], "contacts_email_share", [
        gxe.ExpectColumnValuesToBeInSet(column="email_valid", value_set=[True], mostly=min_share)])
    n_valid = int(given["email_valid"].sum())
    share = n_valid / len(given) if len(given) else 1.0
    metrics = {
        "rows_checked": int(len(rows)),
        "with_email": int(len(given)),
        "valid_emails": n_valid,
        "valid_share": round(share, 4),
        "min_share": min_share,
        "valid_but_malformed": int(shape_results[0].result.get("unexpected_count", 0)) if shape_results else 0,
        "invalid_examples": [mask_email(str(e)) for e in given.loc[~given["email_valid"], "email_normalized"]
                             .head(5).tolist()],
    }
    return shape_ok and share_ok, metrics


def contact_ids_are_unique(df: pd.DataFrame, id_column: str = "contact_id") -> tuple[bool, dict[str, Any]]:
    """No missing and no repeated contact id."""
    from great_expectations import expectations as gxe

    if id_column not in df.columns:
        return False, {"rows": int(len(df)), "error": f"no column {id_column!r}"}
    ids = df[[id_column]].astype(str).where(df[[id_column]].notna())
    passed, _ = run_suite(ids.reset_index(drop=True), "contacts_unique_ids", [
        gxe.ExpectColumnValuesToNotBeNull(column=id_column),
        gxe.ExpectColumnValuesToBeUnique(column=id_column)])
    repeated = ids[id_column][ids[id_column].duplicated(keep=False) & ids[id_column].notna()]
    metrics = {
        "rows": int(len(df)),
        "missing_ids": int(ids[id_column].isna().sum()),
        "duplicated_ids": int(repeated.nunique()),
        "duplicated_rows": int(len(repeated)),
        "examples": [str(v) for v in repeated.drop_duplicates().head(5).tolist()],
    }
    return passed, metrics
