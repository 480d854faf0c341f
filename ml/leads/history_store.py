"""Writes the synthetic lead history (ml.leads.history) into the crm tables, with every inbound message read by
the real local NLU, so the lead-conversion model trains on what the pipeline would have stored. Once per seed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import psycopg

from ml.leads.history import LeadStory, lead_history
from ml.nlu.engine import LocalAnalyzer

Progress = Callable[[int, int], None]


def history_loaded(conn: psycopg.Connection, seed: int) -> int:
    return conn.execute("SELECT count(*) FROM crm.contacts WHERE attributes->>'history_seed' = %s",
                        (str(seed),)).fetchone()[0]


def load_lead_history(conn: psycopg.Connection, analyzer: LocalAnalyzer, n: int, now: datetime, seed: int = 7,
                      progress: Progress | None = None) -> int:
    """Writes `n` leads unless this seed's history is already there; returns the leads written (0 if it was)."""
    if history_loaded(conn, seed):
        return 0
    stories = lead_history(n, now, seed=seed)
    with conn.transaction():
        for done, story in enumerate(stories, 1):
            _write_story(conn, analyzer, story, seed)
            if progress and (done % 100 == 0 or done == len(stories)):
                progress(done, len(stories))
    return len(stories)


def _write_story(conn: psycopg.Connection, analyzer: LocalAnalyzer, story: LeadStory, seed: int) -> None:
    last_at = story.messages[-1][0]
    contact_id = conn.execute(
        "INSERT INTO crm.contacts (display_name, source_channel, city, first_seen_at, last_seen_at, attributes) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (f"Cliente {story.key}", story.channel, story.city, story.first_at, last_at,
         json.dumps({"history_seed": str(seed), "history_key": story.key}))).fetchone()[0]
    conversation_id = conn.execute(
        "INSERT INTO crm.conversations (contact_id, channel, status, last_message_at, closed_at, close_reason) "
        "VALUES (%s, %s, 'closed', %s, %s, 'inactive') RETURNING id",
        (contact_id, story.channel, last_at, last_at)).fetchone()[0]
    for k, (sent_at, direction, text) in enumerate(story.messages):
        message_id = conn.execute(
            "INSERT INTO crm.messages (channel, dedup_key, direction, message_type, text, counterpart_external_id, "
            "sent_at, contact_id, conversation_id, processed_at) VALUES (%s, %s, %s, 'text', %s, %s, %s, %s, %s, %s) "
            "RETURNING id",
            (story.channel, f"{story.key}-{k}", direction, text, story.key, sent_at, contact_id, conversation_id,
             sent_at)).fetchone()[0]
        if direction == "inbound":
            _write_analysis(conn, analyzer.analyze(text), message_id, contact_id, sent_at)
    for k, (placed_at, total) in enumerate(story.prior_orders + story.later_orders):
        conn.execute(
            "INSERT INTO crm.orders (order_number, contact_id, channel, status, subtotal, total, placed_at, source) "
            "VALUES (%s, %s, %s, 'delivered', %s, %s, %s, 'history')",
            (f"H-{story.key}-{k}", contact_id, story.channel, total, total, placed_at))


def _write_analysis(conn: psycopg.Connection, result, message_id: int, contact_id: int,  # noqa: ANN001
                    at: datetime) -> None:
    common = (message_id, contact_id, "history", result.model, result.processing_time_ms, at)
    intent, sentiment, lead = result.intent, result.sentiment, result.lead
    conn.execute(
        "INSERT INTO crm.intent_detections (message_id, contact_id, source, model, processing_time_ms, created_at, "
        "language, primary_intent, secondary_intents, confidence, entities) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (*common, result.language, intent.primary_intent, json.dumps(intent.secondary_intents), intent.confidence,
         json.dumps(intent.entities.model_dump() if hasattr(intent.entities, "model_dump") else intent.entities)))
    conn.execute(
        "INSERT INTO crm.sentiment_analyses (message_id, contact_id, source, model, processing_time_ms, created_at, "
        "sentiment, score, confidence, emotions, urgency_level, churn_risk, triggers) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (*common, sentiment.sentiment, sentiment.score, sentiment.confidence, json.dumps(sentiment.emotions),
         sentiment.urgency_level, sentiment.churn_risk, json.dumps(sentiment.triggers)))
    conn.execute(
        "INSERT INTO crm.lead_classifications (message_id, contact_id, source, model, processing_time_ms, created_at, "
        "score, category, factors, signals, reasoning, recommended_action) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (*common, lead.score, lead.category, json.dumps([f.model_dump() for f in lead.factors]),
         json.dumps(lead.signals), lead.reasoning, lead.recommended_action))
