"""Turns a model's text into a validated result, fixing what is obviously fixable first.

Models drift in small, predictable ways (92 for 0.92, "Negative", Spanish labels, the spec's own `quantity` /
`urgency` entity keys, a category that disagrees with the score bands). Fixing those here saves a paid repair
round trip; anything else is reported as an OutputError whose message feeds the repair prompt.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from ml.llm.base import RESULT_TYPES
from ml.nlu.types import INTENTS, category_for

FACTOR_MAX = {"urgency": 30, "decision_power": 25, "budget": 25, "product_fit": 20}
_FACTOR_ALIASES = {
    "urgencia": "urgency", "decision": "decision_power", "authority": "decision_power",
    "poder_de_decision": "decision_power", "poder_decision": "decision_power", "autoridad": "decision_power",
    "presupuesto": "budget", "fit": "product_fit", "fit_con_producto": "product_fit",
    "product_match": "product_fit",
}
_SENTIMENT_ALIASES = {
    "positivo": "positive", "negativo": "negative", "neutro": "neutral", "neutra": "neutral",
}
_URGENCY_ALIASES = {"baja": "low", "media": "medium", "alta": "high", "critica": "critical", "urgent": "high"}
_ENTITY_ALIASES = {
    "product": "products", "quantity": "quantities", "amount": "money", "amounts": "money", "date": "dates",
    "urgency": "urgency_words", "order_number": "order_numbers", "email": "emails", "phone": "phones",
}
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
_ACCENTS = str.maketrans("áéíóúñ", "aeioun")


class OutputError(ValueError):
    """The text is not a valid result; the message says why, for the repair prompt and the record."""


def parse_result(task: str, text: str | None) -> BaseModel:
    """Validated IntentResult / SentimentResult / LeadScore from a model's raw text."""
    data = extract_json(text)
    normalised = _NORMALISERS[task](dict(data))
    try:
        return RESULT_TYPES[task].model_validate(normalised)
    except ValidationError as exc:
        raise OutputError(_summary(exc)) from exc


def extract_json(text: str | None) -> dict[str, Any]:
    """The JSON object in the text, tolerating code fences and chatter around it."""
    if not text or not text.strip():
        raise OutputError("empty answer: expected one JSON object")
    cleaned = _FENCE.sub("", text.strip())
    candidates = [cleaned]
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if 0 <= start < end:
        candidates.append(cleaned[start:end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    raise OutputError("the answer is not a JSON object")


def _summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:8]]
    return "; ".join(parts)


# --- scalar fixes -------------------------------------------------------------------------------------------

# Above this a 0..1 value must be a percentage (92 -> 0.92); between 1 and here it is spill-over (1.02 -> 1).
_PERCENT_FROM = 1.5


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        try:
            return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            return None
    return None


def _fraction(number: float, low: float) -> float:
    if _PERCENT_FROM < abs(number) <= 100.0:
        number /= 100.0
    return min(1.0, max(low, number))


def _unit(value: Any) -> Any:
    """0..1, accepting percentages (92 or "92%" -> 0.92) and clamping rounding spill-over."""
    number = _number(value)
    return value if number is None else _fraction(number, 0.0)


def _signed_unit(value: Any) -> Any:
    """-1..1, accepting -78 for -0.78."""
    number = _number(value)
    return value if number is None else _fraction(number, -1.0)


def _percent(value: Any) -> Any:
    """0..100 integer, accepting a 0..1 fraction (0.85 -> 85) and "85%"."""
    if isinstance(value, str) and value.strip().endswith("%"):
        value = value.strip()[:-1]
    number = _number(value)
    if number is None:
        return value
    if 0.0 < number < 1.0:
        number *= 100.0
    return int(round(min(100.0, max(0.0, number))))


def _label(value: Any, aliases: dict[str, str] | None = None) -> Any:
    if not isinstance(value, str):
        return value
    label = re.sub(r"[\s\-]+", "_", value.strip().lower().translate(_ACCENTS))
    return (aliases or {}).get(label, label)


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(item) for item in items if item is not None and str(item).strip()]


def _list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


# --- per task -----------------------------------------------------------------------------------------------

def _intent(data: dict[str, Any]) -> dict[str, Any]:
    primary = data["primary_intent"] = _label(data.get("primary_intent"))
    secondary = [_label(item) for item in _list(data.get("secondary_intents"))]
    data["secondary_intents"] = list(dict.fromkeys(s for s in secondary if s in INTENTS and s != primary))
    data["confidence"] = _unit(data.get("confidence"))
    data["entities"] = _entities(data.get("entities"))
    if data.get("reasoning") is not None and not isinstance(data["reasoning"], str):
        data["reasoning"] = str(data["reasoning"])
    return data


def _entities(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    merged: dict[str, list[Any]] = {}
    for key, value in raw.items():
        name = _ENTITY_ALIASES.get(key, key)
        merged.setdefault(name, []).extend(_list(value))
    out: dict[str, Any] = {}
    for name in ("products", "urgency_words", "order_numbers", "emails", "phones"):
        out[name] = _strings(merged.get(name))
    quantities = (_number(q) for q in merged.get("quantities", []))
    out["quantities"] = [int(q) for q in quantities if q is not None]
    out["money"] = [m if isinstance(m, dict) else {"amount": _number(m)} for m in merged.get("money", [])
                    if isinstance(m, dict) or _number(m) is not None]
    out["dates"] = [d if isinstance(d, dict) else {"text": str(d)} for d in merged.get("dates", []) if d]
    return out


def _sentiment(data: dict[str, Any]) -> dict[str, Any]:
    data["sentiment"] = _label(data.get("sentiment"), _SENTIMENT_ALIASES)
    data["score"] = _signed_unit(data.get("score"))
    data["confidence"] = _unit(data.get("confidence"))
    emotions = data.get("emotions")
    if isinstance(emotions, dict):
        data["emotions"] = {_label(k): _unit(v) for k, v in emotions.items() if _number(v) is not None}
    elif emotions is None or isinstance(emotions, list) and not emotions:
        data.pop("emotions", None)
    if data.get("urgency_level") is None:
        data.pop("urgency_level", None)
    else:
        data["urgency_level"] = _label(data["urgency_level"], _URGENCY_ALIASES)
    if data.get("churn_risk") is None:
        data.pop("churn_risk", None)
    else:
        data["churn_risk"] = _percent(data["churn_risk"])
    data["triggers"] = _strings(data.get("triggers"))
    return data


def _lead(data: dict[str, Any]) -> dict[str, Any]:
    score = _number(data.get("score"))
    if score is not None:
        data["score"] = int(round(min(100.0, max(0.0, score))))
        # The bands are the spec's definition and routing relies on them, so the score decides the category.
        data["category"] = category_for(data["score"])
    else:
        data["category"] = _label(data.get("category"))
    data["factors"] = _factors(data.get("factors"))
    data["signals"] = _strings(data.get("signals"))
    return data


def _factors(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, dict):  # {"urgency": 25, ...} or {"urgency": {"points": 25, ...}}
        raw = [v | {"name": k} if isinstance(v, dict) else {"name": k, "points": v} for k, v in raw.items()]
    factors: dict[str, dict[str, Any]] = {}
    for item in _list(raw):
        if not isinstance(item, dict):
            continue
        name = _label(item.get("name"), _FACTOR_ALIASES)
        points = _number(item.get("points"))
        if name not in FACTOR_MAX or points is None:
            continue
        cap = FACTOR_MAX[name]
        factors[name] = {
            "name": name, "points": int(round(min(cap, max(0.0, points)))), "max_points": cap,
            "evidence": _strings(item.get("evidence")),
        }
    return list(factors.values())


_NORMALISERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "intent": _intent, "sentiment": _sentiment, "lead": _lead,
}
