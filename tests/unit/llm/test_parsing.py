"""Model output → validated results: what is fixed silently and what needs the repair round trip."""

from __future__ import annotations

import json

import pytest

from ml.llm.parsing import OutputError, extract_json, parse_result


def test_json_is_found_inside_fences_and_chatter() -> None:
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Sure! Here it is: {"a": {"b": 2}} Hope it helps.') == {"a": {"b": 2}}


@pytest.mark.parametrize("text", ["", "   ", None, "[1, 2]", "no json here", '{"a": '])
def test_non_objects_are_output_errors(text: str | None) -> None:
    with pytest.raises(OutputError):
        extract_json(text)


def test_intent_labels_percentages_and_spec_entity_keys_are_normalised() -> None:
    result = parse_result("intent", json.dumps({
        "primary_intent": "Purchase Inquiry",
        "secondary_intents": ["pricing-question", "purchase_inquiry", "made_up", "pricing_question"],
        "confidence": 92,
        "entities": {"products": "laptop", "quantity": "10", "urgency": "this week", "money": 450},
    }))
    assert result.primary_intent == "purchase_inquiry"
    assert result.secondary_intents == ["pricing_question"]
    assert result.confidence == 0.92
    assert result.entities.products == ["laptop"]
    assert result.entities.quantities == [10]
    assert result.entities.urgency_words == ["this week"]
    assert result.entities.money == [{"amount": 450.0}]


def test_unknown_primary_intent_needs_repair() -> None:
    with pytest.raises(OutputError, match="primary_intent"):
        parse_result("intent", '{"primary_intent": "buy", "confidence": 0.9}')


def test_sentiment_spanish_labels_and_out_of_range_numbers() -> None:
    result = parse_result("sentiment", json.dumps({
        "sentiment": "NEGATIVO", "score": -1.02, "confidence": "95%", "urgency_level": "crítica",
        "churn_risk": 120, "emotions": {"anger": 0.7, "note": "n/a"}, "triggers": "tercera vez",
    }))
    assert (result.sentiment, result.score, result.confidence) == ("negative", -1.0, 0.95)
    assert (result.urgency_level, result.churn_risk) == ("critical", 100)
    assert result.emotions == {"anger": 0.7}
    assert result.triggers == ["tercera vez"]


def test_rounding_spill_over_is_clamped_not_read_as_a_percentage() -> None:
    result = parse_result("sentiment", '{"sentiment": "positive", "score": 1.02, "confidence": 1.01}')
    assert (result.score, result.confidence) == (1.0, 1.0)


def test_sentiment_defaults_apply_when_optional_fields_are_null() -> None:
    result = parse_result("sentiment", '{"sentiment": "neutral", "score": 0, "confidence": 0.8, '
                                       '"urgency_level": null, "churn_risk": null, "emotions": null}')
    assert (result.urgency_level, result.churn_risk, result.emotions) == ("low", 0, {})


def test_lead_category_follows_the_spec_bands_and_factors_are_capped() -> None:
    result = parse_result("lead", json.dumps({
        "score": 79.6, "category": "warm",
        "factors": {"urgencia": 35, "decision power": 20,
                    "budget": {"points": 15, "evidence": "500 unidades"}, "vibes": 10},
        "reasoning": "r", "recommended_action": "assign_to_sales_immediately",
    }))
    assert (result.score, result.category) == (80, "hot")
    assert [(f.name, f.points, f.max_points) for f in result.factors] == [
        ("urgency", 30, 30), ("decision_power", 20, 25), ("budget", 15, 25)]
    assert result.factors[2].evidence == ["500 unidades"]


def test_lead_without_reasoning_needs_repair() -> None:
    with pytest.raises(OutputError, match="reasoning"):
        parse_result("lead", '{"score": 50, "recommended_action": "follow_up_within_24h"}')
