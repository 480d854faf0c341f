"""Training and evaluation of the local NLU on the shipped corpus (ml/data)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.nlu.corpus import CORPUS_PATH, Example, load_corpus, split
from ml.nlu.model import TextModels, fit
from ml.nlu.types import INTENTS, SENTIMENTS


@dataclass
class TrainResult:
    models: TextModels
    path: Path
    seconds: float
    evaluation: dict[str, Any]


def train(examples: list[Example]) -> TextModels:
    return fit([e.text for e in examples], [e.intent for e in examples], [e.sentiment for e in examples])


def train_and_save(model_dir: Path, corpus_path: Path = CORPUS_PATH) -> TrainResult:
    from ml.nlu.engine import MODEL_FILE

    started = time.perf_counter()
    examples = load_corpus(corpus_path)
    models = train(split(examples, "train"))
    evaluation = evaluate(models, split(examples, "test"))
    models.metadata.update({"intent_macro_f1": evaluation["intent"]["macro_f1"],
                            "sentiment_macro_f1": evaluation["sentiment"]["macro_f1"],
                            "corpus": str(corpus_path.name), "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                       time.gmtime())})
    path = model_dir / MODEL_FILE
    models.save(path)
    return TrainResult(models, path, time.perf_counter() - started, evaluation)


def evaluate(models: TextModels, examples: list[Example],
             tasks: tuple[str, ...] = ("intent", "sentiment")) -> dict[str, Any]:
    """Per-class precision / recall / F1 and confusion matrices on held-out examples, through the shipped
    pipeline (sentiment includes the lexicon blend)."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    from ml.nlu.engine import LocalAnalyzer

    analyzer = LocalAnalyzer(models)
    predictions = [analyzer.analyze(e.text) for e in examples]
    report: dict[str, Any] = {"examples": len(examples)}
    for task, labels, truth, predicted in (
        ("intent", INTENTS, [e.intent for e in examples], [p.intent.primary_intent for p in predictions]),
        ("sentiment", SENTIMENTS, [e.sentiment for e in examples], [p.sentiment.sentiment for p in predictions]),
    ):
        if task not in tasks:
            continue
        precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=list(labels),
                                                                         zero_division=0)
        report[task] = {
            "labels": list(labels),
            "per_class": {label: {"precision": round(float(p), 3), "recall": round(float(r), 3),
                                  "f1": round(float(f), 3), "support": int(s)}
                          for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)},
            "macro_f1": round(float(f1_score(truth, predicted, labels=list(labels), average="macro")), 3),
            "accuracy": round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth), 3),
            "confusion": confusion_matrix(truth, predicted, labels=list(labels)).tolist(),
        }
    return report
