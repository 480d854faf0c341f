"""Message understanding over HTTP: lead classification, intent, sentiment and routing (flows 2-5)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request

from ml.leads.features import live_features

from serving.deps import ReadKey, SessionDep
from serving.schemas.nlu import (
    IntentResponse,
    LeadClassifyRequest,
    LeadScoreResponse,
    MessageRequest,
    ModelFactor,
    RoutingRequest,
    RoutingResponse,
    RoutingSignals,
    SentimentResponse,
    recommended_priority,
)
from serving.services.analysis_records import save_understood
from serving.services.lead_history import lead_history
from serving.services.lead_model import ChampionModel, combined_score
from serving.services.routing import RoutingInput, decide_route
from serving.services.understanding import Understanding, Understood

router = APIRouter(tags=["understanding"])


async def _understand(request: Request, session: SessionDep, text: str, metadata: dict | None = None,
                      context: dict | None = None, tasks: tuple[str, ...] = ("intent", "sentiment", "lead")
                      ) -> tuple[Understood, object]:
    understanding: Understanding = request.app.state.understanding
    await understanding.refresh_catalog(session)
    understood = await understanding.understand(text, metadata, context=context, tasks=tasks)
    ids = await save_understood(session, understood, source="api")
    await session.commit()
    return understood, ids


@router.post("/leads/classify", response_model=LeadScoreResponse)
async def classify_lead(body: LeadClassifyRequest, request: Request, session: SessionDep,
                        _: ReadKey) -> LeadScoreResponse:
    """Lead score 0-100 (urgency, decision power, budget, product fit), hot / warm / cold, and what to do; with a
    promoted conversion model, its probability of a purchase within 90 days and the factors behind it."""
    metadata = body.sender_metadata.model_dump(exclude_none=True) if body.sender_metadata else None
    model: ChampionModel = request.app.state.lead_model
    tasks = ("intent", "sentiment", "lead") if model.loaded else ("lead",)
    understood, ids = await _understand(request, session, body.message, metadata, body.context, tasks)
    lead = understood.lead
    response = LeadScoreResponse(lead_id=f"lead_{ids.lead_id}", score=lead.score, category=lead.category,
                                 reasoning=lead.reasoning, recommended_action=lead.recommended_action,
                                 factors=lead.factors, signals=lead.signals, language=understood.language,
                                 ai_model_used=understood.models["lead"],
                                 processing_time_ms=understood.processing_time_ms)
    if model.loaded:
        now = datetime.now(UTC)
        history = await lead_history(session, (metadata or {}).get("phone"), body.message, now)
        scored = model.score(live_features(understood, channel=(metadata or {}).get("channel"), at=now,
                                           history=history))
        if scored is not None:
            response.conversion_probability = round(scored.probability, 4)
            response.combined_score = combined_score(lead.score, scored.probability)
            response.model_version = scored.version
            response.top_factors = [ModelFactor(**vars(c)) for c in scored.top_factors]
    return response


@router.post("/intents/detect", response_model=IntentResponse)
async def detect_intent(body: MessageRequest, request: Request, session: SessionDep,
                        _: ReadKey) -> IntentResponse:
    """Primary and secondary intents (the spec's 11), confidence and entities."""
    understood, ids = await _understand(request, session, body.message, context=body.context, tasks=("intent",))
    intent = understood.intent
    return IntentResponse(intent_id=f"intent_{ids.intent_id}", primary_intent=intent.primary_intent,
                          secondary_intents=intent.secondary_intents, confidence=intent.confidence,
                          entities=intent.entities, language=understood.language,
                          ai_model_used=understood.models["intent"],
                          processing_time_ms=understood.processing_time_ms)


@router.post("/sentiment/analyze", response_model=SentimentResponse)
async def analyze_sentiment(body: MessageRequest, request: Request, session: SessionDep,
                            _: ReadKey) -> SentimentResponse:
    """Label, score -1..1, emotions, urgency, churn risk and the phrases behind them."""
    understood, ids = await _understand(request, session, body.message, context=body.context,
                                        tasks=("sentiment",))
    s = understood.sentiment
    return SentimentResponse(sentiment_id=f"sentiment_{ids.sentiment_id}", sentiment=s.sentiment, score=s.score,
                             confidence=s.confidence, emotions=s.emotions, urgency_level=s.urgency_level,
                             churn_risk=s.churn_risk, triggers=s.triggers,
                             recommended_priority=recommended_priority(s.urgency_level, s.score, s.churn_risk),
                             language=understood.language, ai_model_used=understood.models["sentiment"],
                             processing_time_ms=understood.processing_time_ms)


@router.post("/routing/decide", response_model=RoutingResponse)
async def decide(body: RoutingRequest, request: Request, session: SessionDep, _: ReadKey) -> RoutingResponse:
    """The decision matrix: give a message (understood first) or the signals directly."""
    if body.message is not None:
        understood, ids = await _understand(request, session, body.message)
        s = understood.sentiment
        signals = RoutingSignals(intent=understood.intent.primary_intent, sentiment=s.sentiment,
                                 sentiment_score=s.score, churn_risk=s.churn_risk, lead_score=understood.lead.score)
        decision = understood.routing
        return RoutingResponse(routing_id=f"routing_{ids.routing_id}", destination=decision.destination,
                               priority=decision.priority, rule=decision.rule, reasoning=decision.reasoning,
                               inputs=signals, ai_model_used=understood.model_used,
                               processing_time_ms=understood.processing_time_ms)
    started = time.perf_counter()
    assert body.signals is not None
    decision = decide_route(RoutingInput(**body.signals.model_dump()))
    return RoutingResponse(routing_id=None, destination=decision.destination, priority=decision.priority,
                           rule=decision.rule, reasoning=decision.reasoning, inputs=body.signals,
                           processing_time_ms=round((time.perf_counter() - started) * 1000, 3))
