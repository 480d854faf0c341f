"""Persisting what was understood: intent, sentiment, lead classification and routing records."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import IntentDetection, LeadClassification, RoutingRecord, SentimentAnalysis
from serving.services.understanding import Understood


@dataclass
class RecordIds:
    intent_id: int
    sentiment_id: int
    lead_id: int
    routing_id: int


async def save_understood(session: AsyncSession, understood: Understood, *, message_id: int | None = None,
                          contact_id: int | None = None, conversation_id: int | None = None,
                          source: str = "pipeline") -> RecordIds:
    common = {"message_id": message_id, "contact_id": contact_id, "source": source,
              "processing_time_ms": understood.processing_time_ms}
    intent, sentiment, lead = understood.intent, understood.sentiment, understood.lead
    records = [
        IntentDetection(**common, model=understood.models["intent"], language=understood.language,
                        primary_intent=intent.primary_intent, secondary_intents=list(intent.secondary_intents),
                        confidence=intent.confidence, entities=intent.entities.model_dump(exclude_defaults=True)),
        SentimentAnalysis(**common, model=understood.models["sentiment"], sentiment=sentiment.sentiment,
                          score=sentiment.score, confidence=sentiment.confidence, emotions=sentiment.emotions,
                          urgency_level=sentiment.urgency_level, churn_risk=sentiment.churn_risk,
                          triggers=sentiment.triggers),
        LeadClassification(**common, model=understood.models["lead"], score=lead.score, category=lead.category,
                           factors=[f.model_dump() for f in lead.factors], signals=lead.signals,
                           reasoning=lead.reasoning, recommended_action=lead.recommended_action),
        RoutingRecord(**common, model="routing-matrix-v1", conversation_id=conversation_id,
                      destination=understood.routing.destination, priority=understood.routing.priority,
                      rule=understood.routing.rule, reasoning=understood.routing.reasoning,
                      inputs={"intent": intent.primary_intent, "sentiment": sentiment.sentiment,
                              "sentiment_score": sentiment.score, "churn_risk": sentiment.churn_risk,
                              "lead_score": lead.score}),
    ]
    session.add_all(records)
    await session.flush()
    return RecordIds(*(record.id for record in records))


def routing_as_dict(understood: Understood) -> dict:
    return asdict(understood.routing)
