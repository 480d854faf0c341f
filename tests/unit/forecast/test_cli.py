from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm.cli.main import app

from .conftest import FIXTURE

COLUMNS = ["--customer", "customer", "--date", "order_date", "--amount", "amount"]
PERIODS = ["--calibration-end", "2024-06-30", "--holdout-end", "2024-12-31"]
KNOWN = {"A01", "B02", "D04", "E05", "F06", "G07", "H08", "I09", "J10", "K11"}


def _run(*args: str):
    return CliRunner().invoke(app, ["forecast", *args])


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_writes_one_row_per_customer_known_at_calibration_end(tmp_path: Path) -> None:
    out = tmp_path / "forecast.csv"
    result = _run(str(FIXTURE), *COLUMNS, *PERIODS, "--output", str(out))
    assert result.exit_code == 0, result.output
    rows = _rows(out.read_text())
    assert list(rows[0]) == ["customer_id", "expected_purchases", "expected_revenue", "p_purchase"]
    ids = [row["customer_id"] for row in rows]
    assert sorted(ids) == sorted(KNOWN) and len(ids) == len(set(ids))  # C03, L12 buy only later: absent
    for row in rows:
        assert float(row["expected_purchases"]) >= 0 and float(row["expected_revenue"]) >= 0
        assert 0.0 <= float(row["p_purchase"]) <= 1.0
    by_id = {row["customer_id"]: row for row in rows}
    # F06 buys monthly up to the end; B02 bought once, five months ago; E05 never bought (only a return)
    assert float(by_id["F06"]["expected_purchases"]) > float(by_id["B02"]["expected_purchases"])
    assert float(by_id["F06"]["p_purchase"]) > float(by_id["E05"]["p_purchase"])
    # the fixture is far too small to learn from: BG/NBD alone, and the command says so
    assert "BG/NBD + Gamma-Gamma only" in result.stderr
    assert f"10 customers (45 rows)" in result.stderr


def test_stdout_output_is_only_the_csv() -> None:
    result = _run(str(FIXTURE), *COLUMNS, *PERIODS, "--output", "-")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "customer_id,expected_purchases,expected_revenue,p_purchase"
    assert len(lines) == 1 + len(KNOWN) and all(line.count(",") == 3 for line in lines)


def test_date_format_option(tmp_path: Path) -> None:
    rows = list(csv.DictReader(FIXTURE.open()))
    for row in rows:  # 2024-01-10 09:15:00 -> 10/01/2024 09:15 (day first: ambiguous without the format)
        day, time = row["order_date"].split(" ")
        y, m, d = day.split("-")
        row["order_date"] = f"{d}/{m}/{y} {time[:5]}"
    source = tmp_path / "dayfirst.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    reference = _run(str(FIXTURE), *COLUMNS, *PERIODS, "--output", "-")
    result = _run(str(source), *COLUMNS, *PERIODS, "--date-format", "%d/%m/%Y %H:%M", "--output", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout == reference.stdout


def _write(tmp_path: Path, replace: dict[str, str]) -> Path:
    text = FIXTURE.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "edited.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("edit", "args", "message"), [
    ({}, ["--customer", "client", "--date", "order_date", "--amount", "amount", *PERIODS],
     "column 'client' is not in"),
    ({"2024-02-14 11:00:00": "next tuesday", "2024-04-19 10:00:00": "2024-13-45"}, [*COLUMNS, *PERIODS],
     "unparseable dates"),
    ({",25.00\n": ",twenty-five\n"}, [*COLUMNS, *PERIODS], "non-numeric amounts"),
    ({}, [*COLUMNS, "--calibration-end", "2024-06-30", "--holdout-end", "2024-06-30"], "must be after"),
    ({}, [*COLUMNS, "--calibration-end", "2023-12-31", "--holdout-end", "2024-06-30"],
     "no transactions on or before 2023-12-31"),
    ({}, [*COLUMNS, "--calibration-end", "30/06/2024", "--holdout-end", "2024-12-31"], "30/06/2024"),
])
def test_bad_input_exits_2_with_a_message(tmp_path: Path, edit: dict[str, str], args: list[str],
                                          message: str) -> None:
    out = tmp_path / "out.csv"
    result = _run(str(_write(tmp_path, edit)), *args, "--output", str(out))
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())  # rich wraps the error box
    assert not out.exists()


def test_unparseable_dates_are_counted_with_an_example(tmp_path: Path) -> None:
    path = _write(tmp_path, {"2024-02-14 11:00:00": "next tuesday", "2024-04-19 10:00:00": "2024-13-45"})
    result = _run(str(path), *COLUMNS, *PERIODS, "--output", "-")
    assert result.exit_code == 2
    assert "2 rows, e.g. line 5: 'next tuesday'" in " ".join(result.output.split())


def test_output_folder_must_exist() -> None:
    result = _run(str(FIXTURE), *COLUMNS, *PERIODS, "--output", "/nonexistent-folder/out.csv")
    assert result.exit_code == 2
    assert "folder /nonexistent-folder does not exist" in " ".join(result.output.split())
