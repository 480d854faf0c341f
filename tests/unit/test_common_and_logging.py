"""Tolerant field readers, URL forms, and PII masking in logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import structlog

from crm.db.urls import dagster_url, dbt_env, plain_url, sqlalchemy_url, with_database
from crm.logging import configure_logging, mask_text
from serving.services.channels.common import as_id, as_time


@pytest.mark.parametrize(("value", "expected"), [
    (1697043223, datetime(2023, 10, 11, 16, 53, 43, tzinfo=UTC)),
    ("1697043223", datetime(2023, 10, 11, 16, 53, 43, tzinfo=UTC)),
    (1697043223000, datetime(2023, 10, 11, 16, 53, 43, tzinfo=UTC)),
    ("2021-09-08T06:34:04+0000", datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)),
    ("2021-09-08T06:34:04Z", datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)),
    ("not a time", None),
    (None, None),
])
def test_times_in_every_form(value: object, expected: datetime | None) -> None:
    assert as_time(value) == expected


def test_ids_keep_full_precision() -> None:
    assert as_id(1636129430026801) == "1636129430026801"
    assert as_id("0") == "0"
    assert as_id(None) is None and as_id("") is None


def test_url_forms_are_derived_from_one_plain_url() -> None:
    url = "postgresql://crm:pw@127.0.0.1:55432/crm"
    assert sqlalchemy_url(url).startswith("postgresql+psycopg://crm:pw@")
    assert dagster_url(url).startswith("postgresql+psycopg2://")
    assert plain_url(sqlalchemy_url(url)) == url
    assert with_database(url, "mlflow").endswith("/mlflow")
    assert dbt_env(url)["DBT_PORT"] == "55432"
    with pytest.raises(ValueError):
        plain_url("mysql://x@y/z")


def test_phones_and_emails_are_masked() -> None:
    text = mask_text("from +50761234567 (wa 972987654321) mail ana.perez@example.com id 12345")
    assert "61234567" not in text and "972987654321" not in text and "ana.perez" not in text
    assert "+507" in text and "@example.com" in text and "12345" in text


def test_logs_are_json_with_pii_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    try:
        structlog.get_logger("t").info("contact.created", phone="+50761234567", note="write to bob@mail.com")
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:  # the configuration holds capsys's stream, closed after this test: later tests must not write there
        structlog.reset_defaults()
    record = json.loads(line)
    assert record["event"] == "contact.created"
    assert "61234567" not in line and "bob@" not in line
