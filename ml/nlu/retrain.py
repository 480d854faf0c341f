"""Retraining the local intent and sentiment models from the shipped corpus plus labels people corrected
(crm.label_feedback), tracked in MLflow as `nlu_text_models` and promoted like the lead model.

A correction may give only the intent or only the sentiment; the other label is filled in with what the current
models say, so every example has both. One in five corrections (by a hash of its text, so always the same ones)
is held out with the corpus's test split: a challenger and the champion are scored on exactly those examples.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.llm.redaction import redact
from ml.nlu.corpus import Example, load_corpus, split
from ml.nlu.model import TextModels
from ml.nlu.train import evaluate, train
from ml.registry import CHALLENGER, CHAMPION, aliased_version, git_commit, set_alias

NLU_MODEL = "nlu_text_models"
EVAL_ARTIFACT = "evaluation_examples.csv"


@dataclass(frozen=True)
class Correction:
    text: str
    intent: str | None
    sentiment: str | None


def feedback_examples(corrections: Iterable[Correction], current: TextModels | None) -> list[Example]:
    """Corrections as corpus examples (latest per text wins), split train / test by a hash of the text."""
    latest: dict[str, Correction] = {}
    for correction in corrections:
        latest[correction.text.strip()] = correction
    examples = []
    for text, correction in latest.items():
        intent, sentiment = correction.intent, correction.sentiment
        if (intent is None or sentiment is None) and current is not None:
            predicted_intent, predicted_sentiment = current.predict_many([text])
            intent, sentiment = intent or predicted_intent[0], sentiment or predicted_sentiment[0]
        if intent is None or sentiment is None:
            continue
        held_out = int(hashlib.sha1(text.encode()).hexdigest(), 16) % 5 == 0
        # Customers' own words end up in MLflow (the evaluation snapshot, the model's vocabulary): their phone
        # numbers, emails, cards and addresses never do.
        examples.append(Example(id=f"feedback-{len(examples)}", text=redact(text).text, intent=intent,
                                sentiment=sentiment, language="", split="test" if held_out else "train"))
    return examples


def nlu_score(models: TextModels, examples: list[Example]) -> dict[str, float]:
    report = evaluate(models, examples)
    intent, sentiment = report["intent"]["macro_f1"], report["sentiment"]["macro_f1"]
    return {"intent_macro_f1": intent, "sentiment_macro_f1": sentiment, "nlu_score": (intent + sentiment) / 2,
            "examples": float(report["examples"])}


def fingerprint(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for e in sorted(examples, key=lambda e: (e.text, e.intent, e.sentiment, e.split)):
        digest.update(f"{e.text}\x1f{e.intent}\x1f{e.sentiment}\x1f{e.split}\x1e".encode())
    return digest.hexdigest()[:16]


@dataclass
class RetrainResult:
    run_id: str | None
    version: int | None
    metrics: dict[str, float]
    feedback: int
    skipped: str | None = None


def retrain_nlu(corrections: list[Correction], current: TextModels | None, *, force: bool = False) -> RetrainResult:
    """Trains on corpus-train + corrections-train, scores on corpus-test + corrections-test, logs and registers
    the models as `nlu_text_models@challenger` (MLflow must be configured). Skips when nothing changed since the
    last challenger, unless `force`."""
    import mlflow

    extra = feedback_examples(corrections, current)
    if not extra and not force:  # the corpus alone gives the shipped models again: nothing to learn
        return RetrainResult(None, None, {}, 0, skipped="no corrected labels yet: the shipped models stay")
    corpus = load_corpus()
    training, evaluation = split(corpus, "train") + split(extra, "train"), split(corpus, "test") + split(extra, "test")
    data = fingerprint(training + evaluation)
    latest = aliased_version(NLU_MODEL, CHALLENGER)
    if not force and latest is not None and mlflow.get_run(latest.run_id).data.tags.get("data_fingerprint") == data:
        return RetrainResult(latest.run_id, latest.version, {}, len(extra),
                             skipped=f"no new corrections since version {latest.version}")
    models = train(training)
    metrics = nlu_score(models, evaluation)
    with mlflow.start_run(run_name="nlu-retrain") as run, tempfile.TemporaryDirectory() as folder:
        mlflow.log_params({"corpus_train": len(training) - len(split(extra, "train")),
                           "feedback_train": len(split(extra, "train")), "evaluation_examples": len(evaluation),
                           **{f"{task}_{k}": v for task in ("intent", "sentiment")
                              for k, v in _classifier_params(getattr(models, task)).items()}})
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"data_fingerprint": data, "model": NLU_MODEL, "git_commit": git_commit()})
        mlflow.log_dict({"top_terms": top_terms(models)}, "feature_importance.json")
        table = Path(folder) / EVAL_ARTIFACT
        _write_examples(evaluation, table)
        mlflow.log_artifact(str(table))
        from ml.nlu.engine import MODEL_FILE
        from ml.nlu.pyfunc import NluPyfunc

        path = Path(folder) / MODEL_FILE
        models.save(path)
        import pandas as pd
        from mlflow.models import infer_signature

        example = pd.DataFrame({"text": [e.text for e in evaluation[:3]]})
        predicted_intents, predicted_sentiments = models.predict_many(list(example["text"]))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=NluPyfunc(), artifacts={"nlu": str(path)},
            signature=infer_signature(example, pd.DataFrame({"intent": predicted_intents,
                                                             "sentiment": predicted_sentiments})),
            input_example=example, pip_requirements=["scikit-learn", "joblib"], registered_model_name=NLU_MODEL)
    version = int(info.registered_model_version)
    set_alias(NLU_MODEL, CHALLENGER, version)
    return RetrainResult(run.info.run_id, version, metrics, len(extra))


def nlu_challenger_gap(shipped: TextModels | None = None) -> dict[str, Any]:
    """Challenger minus champion `nlu_score` on the challenger's evaluation examples. Without a champion the
    `shipped` models (what is served until then) are the ones to beat; gap None only when neither exists."""
    import mlflow

    challenger = aliased_version(NLU_MODEL, CHALLENGER)
    if challenger is None:
        raise LookupError(f"{NLU_MODEL} has no @{CHALLENGER}")
    champion = aliased_version(NLU_MODEL, CHAMPION)
    with tempfile.TemporaryDirectory() as folder:
        examples = _read_examples(Path(mlflow.artifacts.download_artifacts(
            run_id=challenger.run_id, artifact_path=EVAL_ARTIFACT, dst_path=folder)))
        scores = {"challenger": nlu_score(load_registered(challenger.model_uri, folder), examples)["nlu_score"]}
        if champion is not None and champion.version != challenger.version:
            scores["champion"] = nlu_score(load_registered(champion.model_uri, folder), examples)["nlu_score"]
        elif champion is None and shipped is not None:
            scores["champion"] = nlu_score(shipped, examples)["nlu_score"]  # the shipped models
    return {"metric": "nlu_score", "challenger_version": challenger.version,
            "champion_version": champion.version if champion else None,
            "gap": scores["challenger"] - scores["champion"] if "champion" in scores else None,
            **{f"{who}_nlu_score": round(value, 4) for who, value in scores.items()}}


def _classifier_params(classifier: Any) -> dict[str, Any]:
    params = classifier.get_params() if hasattr(classifier, "get_params") else {}
    return {k: v for k, v in params.items() if isinstance(v, int | float | str | bool)}


def top_terms(models: TextModels, per_class: int = 8) -> dict[str, dict[str, list[str]]]:
    """The n-grams that weigh most for each intent and sentiment (the linear models' coefficients)."""
    import numpy as np

    try:
        names = np.asarray(models.vectorizer.get_feature_names_out())
    except (AttributeError, ValueError):
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    for task in ("intent", "sentiment"):
        classifier = getattr(models, task)
        coef = getattr(classifier, "coef_", None)
        if coef is None or coef.shape[1] != len(names):
            continue
        out[task] = {str(label): names[np.argsort(-row)[:per_class]].tolist()
                     for label, row in zip(classifier.classes_, coef, strict=True)}
    return out


def load_registered(model_uri: str, folder: str) -> TextModels:
    import mlflow

    from ml.nlu.engine import MODEL_FILE

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tempfile.mkdtemp(dir=folder)))
    return TextModels.load(next(local.rglob(MODEL_FILE)))


def _write_examples(examples: list[Example], path: Path) -> None:
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "intent", "sentiment", "language", "split"])
        writer.writerows([e.id, e.text, e.intent, e.sentiment, e.language, e.split] for e in examples)


def _read_examples(path: Path) -> list[Example]:
    return load_corpus(path)
