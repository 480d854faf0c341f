"""Small hand-made frames for the dedup engine tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "dedup" / "people.csv"
PEOPLE_FIELDS = {"first": "first_name", "last": "last_name", "phone": "phone", "email": "email", "birth": "date",
                 "city": "city"}


@pytest.fixture()
def people() -> pd.DataFrame:
    """12 contacts: 1-2-3 one person (accents, national phone, typos), 4 and 6 one person (names swapped), 5 a
    different Juan Pérez, 9-10 one person (one phone missing), everybody else alone."""
    return pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)


def cluster_of(clusters: pd.DataFrame) -> dict[str, str]:
    return dict(zip(clusters["id"], clusters["cluster_id"], strict=True))
