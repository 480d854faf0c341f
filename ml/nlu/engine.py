"""The local analyzer: language, intent (+ entities), sentiment and lead score for one message, offline.

Implements the same Analyzer protocol as the LLM adapters (ml.llm), so the fallback chain ends here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from ml.nlu.entities import CatalogProduct, extract_entities
from ml.nlu.intent import intent_result
from ml.nlu.language import detect_language
from ml.nlu.lead import score_lead
from ml.nlu.model import MODEL_VERSION, TextModels
from ml.nlu.sentiment import analyze_sentiment
from ml.nlu.types import IntentResult, LeadScore, SentimentResult

log = logging.getLogger(__name__)
MODEL_FILE = "nlu.joblib"
# Longer texts are cut: a customer message rarely runs past a few hundred characters, and the cost stays bounded.
MAX_TEXT_CHARS = 4000
MODEL_NAME = f"local-nlu-v{MODEL_VERSION}"


class NluResult(BaseModel):
    language: str
    intent: IntentResult
    sentiment: SentimentResult
    lead: LeadScore
    model: str = MODEL_NAME
    processing_time_ms: float


class LocalAnalyzer:
    name = "local"
    model = MODEL_NAME

    def __init__(self, models: TextModels, catalog: Sequence[CatalogProduct] = ()):
        self.models = models
        self.catalog: tuple[CatalogProduct, ...] = tuple(catalog)

    def set_catalog(self, catalog: Sequence[CatalogProduct]) -> None:
        self.catalog = tuple(catalog)

    def analyze(self, text: str, sender_metadata: dict | None = None, language: str | None = None) -> NluResult:
        started = time.perf_counter()
        text = text[:MAX_TEXT_CHARS]
        language = language or detect_language(text)
        intent_probabilities, sentiment_probabilities = self.models.probabilities(text)
        entities = extract_entities(text, self.catalog, language=language)
        intent = intent_result(intent_probabilities, entities)
        sentiment = analyze_sentiment(text, sentiment_probabilities, language, intent.primary_intent)
        lead = score_lead(text, intent, sentiment, sender_metadata, catalog_loaded=bool(self.catalog))
        elapsed = (time.perf_counter() - started) * 1000
        return NluResult(language=language, intent=intent, sentiment=sentiment, lead=lead,
                         processing_time_ms=round(elapsed, 3))

    # The Analyzer protocol (ml.llm.base): same answers, async, one task at a time.
    async def detect_intent(self, text: str, context: dict | None = None) -> IntentResult:
        return self.analyze(text).intent

    async def analyze_sentiment(self, text: str, context: dict | None = None) -> SentimentResult:
        return self.analyze(text).sentiment

    async def classify_lead(self, text: str, context: dict | None = None) -> LeadScore:
        return self.analyze(text, sender_metadata=(context or {}).get("sender_metadata")).lead


def load_or_train(model_dir: Path, train_if_missing: bool = True) -> LocalAnalyzer:
    """Load the saved models; when there are none (a fresh clone), train them from the shipped corpus (a few
    seconds) and save them for next time."""
    path = model_dir / MODEL_FILE
    if path.exists():
        try:
            return LocalAnalyzer(TextModels.load(path))
        except (ValueError, OSError, EOFError) as exc:
            log.warning("nlu model at %s unusable (%s); retraining", path, exc)
    if not train_if_missing:
        raise FileNotFoundError(f"no NLU model at {path}: run `crm nlu train`")
    from ml.nlu.train import train_and_save

    return LocalAnalyzer(train_and_save(model_dir).models)
