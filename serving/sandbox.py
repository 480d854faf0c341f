"""A local stand-in for the Graph API: answers the send endpoints the project calls with Meta's response shapes,
records every request (`GET /_sandbox/messages`), and can post signed status webhooks back to the CRM so the
whole loop (reply → sent → delivered → read) runs on one machine. It also lists a few WhatsApp message
templates, paged like Meta pages them, for `crm templates sync`, and plays a Facebook page and an Instagram
account for publishing and comments (sandbox_social.py). `crm sandbox` serves it on 127.0.0.1:8765."""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import os
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import URL

from serving.sandbox_social import SocialSandbox, graph_error
from serving.services.ingest.signature import sign

# Ids stay unique across sandbox restarts (Meta's never repeat; stored rows are keyed by them).
_counter = itertools.count(int(time.time() * 1000))


def _template(template_id: str, name: str, language: str, category: str, status: str, body: str,
              **extra: Any) -> dict[str, Any]:
    return {"name": name, "language": language, "status": status, "category": category, "id": template_id,
            "components": [{"type": "BODY", "text": body, **extra}], "parameter_format": "POSITIONAL"}


# What every WhatsApp Business Account lists here, in Meta's shape: templates to reopen a conversation and to
# ask for a rating once a case is closed, in Spanish and English, and one still in review (never to be sent).
SANDBOX_TEMPLATES: list[dict[str, Any]] = [
    _template("1000000000000001", "seguimiento", "es", "UTILITY", "APPROVED",
              "Hola {{1}}, ¿seguimos con tu consulta? Responde a este mensaje y te atendemos.",
              example={"body_text": [["Ana"]]}),
    _template("1000000000000002", "follow_up", "en_US", "UTILITY", "APPROVED",
              "Hi {{1}}, shall we pick up where we left off? Reply to this message and we'll help you.",
              example={"body_text": [["Ana"]]}),
    _template("1000000000000003", "encuesta_satisfaccion", "es", "UTILITY", "APPROVED",
              "Hola {{1}}, ¿cómo calificarías la atención que recibiste? Responde con un número del 1 al 5.",
              example={"body_text": [["Ana"]]}),
    _template("1000000000000004", "csat_survey", "en_US", "UTILITY", "APPROVED",
              "Hi {{1}}, how would you rate the help you got? Reply with a number from 1 to 5.",
              example={"body_text": [["Ana"]]}),
    _template("1000000000000005", "oferta_semanal", "es", "MARKETING", "PENDING",
              "{{1}}, esta semana tienes {{2}} de descuento en toda la tienda.",
              example={"body_text": [["Ana", "15%"]]}),
]


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{index}".encode()).decode()


def _cursor_index(cursor: str) -> int | None:
    try:
        prefix, index = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        return int(index) if prefix == "sandbox" else None
    except ValueError:
        return None


_graph_error = graph_error


def create_sandbox(webhook_url: str | None = None, app_secret: str | None = None,
                   status_delay_s: float = 0.2, templates: list[dict[str, Any]] | None = None) -> FastAPI:
    """`templates`: what the template endpoint lists (default SANDBOX_TEMPLATES); a test may change the list
    it passes between requests."""
    app = FastAPI(title="Graph sandbox")
    recorded: list[dict[str, Any]] = []
    tasks: set[asyncio.Task[None]] = set()
    listed = copy.deepcopy(SANDBOX_TEMPLATES) if templates is None else templates

    @app.get("/_sandbox/messages")
    async def messages() -> list[dict[str, Any]]:
        return recorded

    @app.delete("/_sandbox/messages")
    async def clear() -> dict[str, int]:
        count = len(recorded)
        recorded.clear()
        return {"cleared": count}

    social = SocialSandbox(recorded, _counter)
    social.mount(app)

    @app.post("/{version}/{account_id}/messages")
    async def send(version: str, account_id: str, request: Request) -> JSONResponse:
        body = orjson.loads(await request.body() or b"{}")
        recorded.append({"id": len(recorded) + 1, "method": "POST", "path": request.url.path,
                         "query": dict(request.query_params), "body": body,
                         "received_at": datetime.now(UTC).isoformat()})
        n = next(_counter)
        if comment_id := (body.get("recipient") or {}).get("comment_id"):
            return social.private_reply(str(comment_id), n)
        if body.get("messaging_product") == "whatsapp":
            wamid = f"wamid.SANDBOX.{int(time.time())}.{n}"
            if webhook_url:
                task = asyncio.create_task(_post_statuses(webhook_url, app_secret, account_id, body, wamid,
                                                          status_delay_s))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            return JSONResponse({"messaging_product": "whatsapp",
                                 "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                                 "messages": [{"id": wamid}]})
        recipient = (body.get("recipient") or {}).get("id")
        return JSONResponse({"recipient_id": recipient, "message_id": f"m_SANDBOX_{n}"})

    @app.get("/{version}/{waba_id}/message_templates")
    async def message_templates(version: str, waba_id: str, request: Request) -> JSONResponse:
        """Meta's listing: `fields` selects keys (id always comes), `limit` pages (default 25), `after` and
        `before` are cursors, and `paging.next` is left out on the last page."""
        query = request.query_params
        recorded.append({"id": len(recorded) + 1, "method": "GET", "path": request.url.path,
                         "query": dict(query), "body": None, "received_at": datetime.now(UTC).isoformat()})
        try:
            limit = max(1, min(int(query.get("limit") or 25), 1000))
        except ValueError:
            return _graph_error(400, 100, "(#100) Param limit must be an integer")
        start = 0
        if cursor := query.get("after"):
            if (index := _cursor_index(cursor)) is None:
                return _graph_error(400, 100, "(#100) Invalid cursor")
            start = index + 1
        elif cursor := query.get("before"):
            if (index := _cursor_index(cursor)) is None:
                return _graph_error(400, 100, "(#100) Invalid cursor")
            start = max(0, index - limit)
        page = listed[start:start + limit]
        fields = [f.strip() for f in (query.get("fields") or "").split(",") if f.strip()]
        data = [{key: value for key, value in item.items() if not fields or key in fields or key == "id"}
                for item in page]
        body: dict[str, Any] = {"data": data}
        if page:
            end = start + len(page) - 1
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
            url = URL(str(request.url)).remove_query_params(["after", "before"])
            if end + 1 < len(listed):
                body["paging"]["next"] = str(url.include_query_params(after=_cursor(end)))
            if start > 0:
                body["paging"]["previous"] = str(url.include_query_params(before=_cursor(start)))
        return JSONResponse(body)

    return app


async def _post_statuses(url: str, secret: str | None, phone_number_id: str, body: dict[str, Any], wamid: str,
                         delay_s: float) -> None:
    """sent, delivered, read: what Meta posts after a send, signed like Meta signs."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        for state in ("sent", "delivered", "read"):
            await asyncio.sleep(delay_s)
            status = {"id": wamid, "status": state, "timestamp": str(int(time.time())),
                      "recipient_id": body.get("to")}
            if body.get("biz_opaque_callback_data"):
                status["biz_opaque_callback_data"] = body["biz_opaque_callback_data"]
            payload = orjson.dumps({"object": "whatsapp_business_account", "entry": [{"id": "SANDBOX", "changes": [
                {"field": "messages", "value": {"messaging_product": "whatsapp",
                                                "metadata": {"phone_number_id": phone_number_id},
                                                "statuses": [status]}}]}]})
            headers = {"Content-Type": "application/json"}
            if secret:
                headers["X-Hub-Signature-256"] = sign(payload, secret)
            try:
                await client.post(url, content=payload, headers=headers)
            except httpx.HTTPError:
                return


def app_from_env() -> FastAPI:
    """For `uvicorn serving.sandbox:app_from_env --factory`."""
    secrets = [s for s in os.environ.get("META_APP_SECRET", "").split(",") if s.strip()]
    return create_sandbox(os.environ.get("SANDBOX_WEBHOOK_URL") or None, secrets[0].strip() if secrets else None)
