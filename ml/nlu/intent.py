"""Intent: the classifier's top label, secondary intents it also sees, and the entities of the message."""

from __future__ import annotations

from ml.nlu.model import top
from ml.nlu.types import Entities, IntentResult

SECONDARY_MIN_PROBABILITY = 0.15


def intent_result(probabilities: dict[str, float], entities: Entities) -> IntentResult:
    ranked = top(probabilities, k=3)
    primary, confidence = ranked[0]
    secondary = [label for label, p in ranked[1:] if p >= SECONDARY_MIN_PROBABILITY]
    return IntentResult(primary_intent=primary, secondary_intents=secondary, confidence=round(confidence, 3),
                        entities=entities)
