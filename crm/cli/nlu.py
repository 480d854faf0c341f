"""`crm nlu`: train, evaluate and run the offline NLU models on files."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Offline message understanding: train, evaluate, predict.", no_args_is_help=True)
console = Console(stderr=True)


def _model_dir() -> Path:
    from crm.settings import get_settings

    return get_settings().nlu_model_dir


@app.command()
def train() -> None:
    """Train the intent and sentiment models on ml/data (train split) and save them to NLU_MODEL_DIR."""
    from ml.nlu.train import train_and_save

    with console.status("training on the corpus..."):
        result = train_and_save(_model_dir())
    console.print(f"saved {result.path} in {result.seconds:.1f} s; held-out macro-F1: intent "
                  f"{result.evaluation['intent']['macro_f1']:.3f}, sentiment "
                  f"{result.evaluation['sentiment']['macro_f1']:.3f}")


@app.command("eval")
def evaluate(
    input_csv: Path = typer.Option(None, "--input", help="A labelled CSV instead of the corpus's held-out split."),
    text_column: str = typer.Option("text", help="Column with the message (with --input)."),
    intent_column: str = typer.Option("intent", help="Column with the intent label, if any (with --input)."),
    sentiment_column: str = typer.Option("sentiment", help="Column with the sentiment label (with --input)."),
) -> None:
    """Per-class precision / recall / F1 and the confusion matrices, on the held-out split (or a CSV)."""
    from ml.nlu.corpus import Example, load_corpus, split
    from ml.nlu.engine import load_or_train
    from ml.nlu.train import evaluate as run_evaluation

    analyzer = load_or_train(_model_dir())
    if input_csv is None:
        examples = split(load_corpus(), "test")
        title = "held-out split of ml/data/messages.csv"
    else:
        rows = _read_rows(input_csv, text_column)
        examples = [Example(id=str(i), text=row[text_column], intent=row.get(intent_column) or "",
                            sentiment=(row.get(sentiment_column) or "").lower(), language="", split="test")
                    for i, row in enumerate(rows)]
        title = str(input_csv)
    tasks = tuple(task for task in ("intent", "sentiment") if any(getattr(e, task) for e in examples))
    if not tasks:
        console.print(f"[red]no labels found: give --intent-column and/or --sentiment-column of {title}[/red]")
        raise typer.Exit(2)
    report = run_evaluation(analyzer.models, examples, tasks)
    console.print(f"[bold]{title}[/bold]: {report['examples']} examples")
    for task in tasks:
        _print_report(task, report[task])


def _print_report(task: str, result: dict) -> None:
    table = Table(title=f"{task}: macro-F1 {result['macro_f1']:.3f}, accuracy {result['accuracy']:.3f}")
    for column in ("label", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, scores in result["per_class"].items():
        table.add_row(label, f"{scores['precision']:.3f}", f"{scores['recall']:.3f}", f"{scores['f1']:.3f}",
                      str(scores["support"]))
    console.print(table)
    labels = result["labels"]
    short = [label[:8] for label in labels]
    matrix = Table(title=f"{task} confusion (rows: true, columns: predicted)")
    matrix.add_column("")
    for name in short:
        matrix.add_column(name, justify="right")
    for label, row in zip(labels, result["confusion"], strict=True):
        matrix.add_row(label, *(str(v) if v else "." for v in row))
    console.print(matrix)


def _read_rows(path: Path, text_column: str) -> list[dict[str, str]]:
    """UTF-8 (with or without BOM); a file saved by Excel in Windows-1252 is read as such, with a note."""
    if not path.exists():
        console.print(f"[red]{path} does not exist[/red]")
        raise typer.Exit(2)
    csv.field_size_limit(16 * 1024 * 1024)  # long messages are cut by the analyzer, not refused by the reader
    try:
        return _read_csv(path, text_column, "utf-8-sig")
    except UnicodeDecodeError:
        console.print(f"[yellow]{path} is not UTF-8; reading it as Windows-1252[/yellow]")
        return _read_csv(path, text_column, "cp1252")


def _read_csv(path: Path, text_column: str, encoding: str) -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or text_column not in reader.fieldnames:
            console.print(f"[red]column {text_column!r} not in {path} (columns: {reader.fieldnames})[/red]")
            raise typer.Exit(2)
        return list(reader)


@app.command()
def predict(
    input_csv: Path = typer.Argument(..., help="CSV with one message per row (fields may hold newlines)."),
    text_column: str = typer.Option("text", help="Column with the message text."),
    output: Path = typer.Option(..., "--output", "-o", help="JSON Lines file, one line per input row, in order."),
) -> None:
    """language, intent, intent_confidence, sentiment, sentiment_score, lead_score, category for each row."""
    from rich.progress import track

    from ml.nlu.engine import load_or_train

    rows = _read_rows(input_csv, text_column)
    analyzer = load_or_train(_model_dir())
    written = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as out:
        for row in track(rows, description=f"analysing {len(rows)} messages", console=console,
                         disable=not sys.stderr.isatty()):
            text = (row.get(text_column) or "").strip()
            if not text:
                record = {"language": None, "intent": None, "intent_confidence": None, "sentiment": None,
                          "sentiment_score": None, "lead_score": None, "category": None, "error": "empty text"}
            else:
                result = analyzer.analyze(text)
                record = {
                    "language": result.language,
                    "intent": result.intent.primary_intent,
                    "intent_confidence": result.intent.confidence,
                    "sentiment": result.sentiment.sentiment,
                    "sentiment_score": result.sentiment.score,
                    "lead_score": result.lead.score,
                    "category": result.lead.category,
                    "secondary_intents": result.intent.secondary_intents,
                    "urgency_level": result.sentiment.urgency_level,
                    "churn_risk": result.sentiment.churn_risk,
                }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    console.print(f"wrote {written} lines to {output}")
