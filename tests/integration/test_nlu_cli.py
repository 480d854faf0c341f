"""`crm nlu predict` on a CSV written by someone else: one JSON line per row, in order, newlines in fields."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crm.cli.main", "nlu", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_predict_writes_one_line_per_row_in_order(tmp_path: Path) -> None:
    source = tmp_path / "messages.csv"
    source.write_text(
        'id,body,channel\n'
        '1,"Buenas tardes, el microondas que compre no calienta, tiene garantia?",wa\n'
        '2,"hi!! how much for 3 of the blue mugs?\nand do you ship to Miami",ig\n'
        '3,,fb\n'
        '4,"LO QUIERO YA 😍 como pago, acepto yappy",wa\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run("predict", str(source), "--text-column", "body", "--output", str(out))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 4
    for field in ("language", "intent", "intent_confidence", "sentiment", "sentiment_score", "lead_score",
                  "category"):
        assert field in lines[0]
    assert lines[0]["language"] == "es" and lines[0]["intent"] == "warranty_claim"
    assert lines[1]["language"] == "en" and lines[1]["intent"] in ("pricing_question", "purchase_inquiry")
    assert lines[2]["intent"] is None and lines[2]["error"] == "empty text"
    assert lines[3]["intent"] == "purchase_inquiry" and lines[3]["sentiment"] == "positive"


def test_predict_refuses_a_missing_column(tmp_path: Path) -> None:
    source = tmp_path / "m.csv"
    source.write_text("id,texto\n1,hola\n", encoding="utf-8")
    result = run("predict", str(source), "--text-column", "text", "--output", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2 and "column 'text' not in" in result.stderr


def test_eval_prints_per_class_scores_and_the_confusion_matrix() -> None:
    result = run("eval")
    assert result.returncode == 0, result.stderr
    assert "macro-F1" in result.stderr and "confusion" in result.stderr and "warranty_claim" in result.stderr
