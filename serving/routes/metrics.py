"""`GET /metrics`: Prometheus text format, behind an API key (read scope is enough)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving.deps import ReadKey
from serving.services.metrics import CONTENT_TYPE, render_metrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format."}},
)
async def metrics(request: Request, _: ReadKey) -> Response:
    """Webhook deliveries by outcome, queue depth and age, dead letters, outbound / automation / media by status,
    LLM calls and cost, and the reply latency histogram. Scrape with `authorization: {credentials: <key>}`."""
    return Response(await render_metrics(request.app.state.engine), media_type=CONTENT_TYPE)
