"""A local stand-in for the Graph API: answers the send endpoints the project calls with Meta's response shapes,
records every request (`GET /_sandbox/messages`), and can post signed status webhooks back to the CRM so the
whole loop (reply → sent → delivered → read) runs on one machine. `crm sandbox` serves it on 127.0.0.1:8765."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from serving.services.ingest.signature import sign

_counter = itertools.count(1)


def create_sandbox(webhook_url: str | None = None, app_secret: str | None = None,
                   status_delay_s: float = 0.2) -> FastAPI:
    app = FastAPI(title="Graph sandbox")
    recorded: list[dict[str, Any]] = []
    tasks: set[asyncio.Task[None]] = set()

    @app.get("/_sandbox/messages")
    async def messages() -> list[dict[str, Any]]:
        return recorded

    @app.delete("/_sandbox/messages")
    async def clear() -> dict[str, int]:
        count = len(recorded)
        recorded.clear()
        return {"cleared": count}

    @app.post("/{version}/{account_id}/messages")
    async def send(version: str, account_id: str, request: Request) -> JSONResponse:
        body = orjson.loads(await request.body() or b"{}")
        recorded.append({"id": len(recorded) + 1, "method": "POST", "path": request.url.path,
                         "query": dict(request.query_params), "body": body,
                         "received_at": datetime.now(UTC).isoformat()})
        n = next(_counter)
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
