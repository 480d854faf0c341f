from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from crm.cli.main import app

from .conftest import FIXTURE

FIELDS = ["--field", "first:first_name", "--field", "last:last_name", "--field", "phone:phone",
          "--field", "email:email", "--field", "birth:date", "--field", "city:city"]


def _run(*args: str):
    return CliRunner().invoke(app, ["dedup", *args])


def test_csv_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "clusters.csv"
    result = _run(str(FIXTURE), "--id", "contact_id", *FIELDS, "--phone-region", "MX", "--output", str(out))
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with FIXTURE.open(newline="") as handle:
        ids = [row["contact_id"] for row in csv.DictReader(handle)]
    assert [row["id"] for row in rows] == ids  # every input row exactly once
    assert list(rows[0]) == ["id", "cluster_id", "match_probability"]
    by_id = {row["id"]: row for row in rows}
    assert by_id["2"]["cluster_id"] == "1" and by_id["6"]["cluster_id"] == "4"
    assert by_id["5"] == {"id": "5", "cluster_id": "5", "match_probability": ""}  # singleton: empty probability
    assert 0.9 <= float(by_id["2"]["match_probability"]) <= 1.0
    assert "12 rows -> 8 clusters" in result.output  # summary (on stderr)


def test_stdout_output_is_only_the_csv(tmp_path: Path) -> None:
    result = _run(str(FIXTURE), "--id", "contact_id", *FIELDS, "--output", "-")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "id,cluster_id,match_probability"
    assert len(lines) == 13 and all(line.count(",") == 2 for line in lines)


def test_bad_field_spec_exits_2(tmp_path: Path) -> None:
    result = _run(str(FIXTURE), "--id", "contact_id", "--field", "first", "--output", str(tmp_path / "o.csv"))
    assert result.exit_code == 2
    assert "'first' is not COLUMN:ROLE" in result.output
    result = _run(str(FIXTURE), "--id", "contact_id", "--field", "first:nickname", "--output", str(tmp_path / "o.csv"))
    assert result.exit_code == 2
    assert "unknown role 'nickname'" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_unknown_column_exits_2(tmp_path: Path) -> None:
    result = _run(str(FIXTURE), "--id", "contact_id", "--field", "surname:last_name", "--output",
                  str(tmp_path / "o.csv"))
    assert result.exit_code == 2
    assert "column 'surname' is not in people.csv" in result.output
    result = _run(str(FIXTURE), "--id", "key", "--field", "last:last_name", "--output", str(tmp_path / "o.csv"))
    assert result.exit_code == 2
    assert "column 'key' is not in people.csv" in result.output


def test_duplicate_ids_fail_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "dupe_ids.csv"
    bad.write_text("id,email\n1,a@example.com\n1,b@example.com\n")
    result = _run(str(bad), "--id", "id", "--field", "email:email", "--output", str(tmp_path / "o.csv"))
    assert result.exit_code == 1
    assert "ids must be unique" in result.output
