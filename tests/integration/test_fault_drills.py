"""Fault drills (issue 9), each the way it happens in production:
- a worker process killed (SIGKILL) while Meta holds its reply request: the reply is never sent twice, and Meta's
  status webhook later proves it went out;
- an LLM provider timing out on every call: the local models answer, and the timeouts are on record.
(PostgreSQL stopped under load is test_database_outage.py; a failing media download is test_media.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx2
import orjson
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from crm.db.engine import create_engine, session_factory
from ml.llm.chain import AnalyzerChain
from ml.llm.openai_provider import OpenAIProvider
from serving.services import outbox
from serving.services.understanding import llm_call_recorder
from tests.conftest import ROOT
from tests.helpers import APP_SECRET, T0, add_api_key, api_client, make_settings, post_signed
from tests.integration.test_worker import deliver, drain, wa_text

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]


@pytest.fixture
def slow_meta() -> Iterator[tuple[str, list[dict]]]:
    """A Graph API that takes every send and holds its answer for a minute (the worker is killed meanwhile)."""
    app = FastAPI()
    received: list[dict] = []

    @app.post("/{version}/{account}/messages")
    async def send(version: str, account: str, request: Request) -> JSONResponse:
        received.append(orjson.loads(await request.body()))
        await asyncio.sleep(60)
        return JSONResponse({"messages": [{"id": "wamid.TOO_LATE"}]})

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", received
    server.should_exit = True
    thread.join(timeout=5)


async def test_a_worker_killed_mid_reply_never_sends_twice(clean_db: str, graph_sandbox: str,
                                                           slow_meta: tuple[str, list[dict]]) -> None:
    slow_url, received = slow_meta
    await deliver(clean_db, wa_text("wamid.KILL1", "hola, ¿tienen laptops lenovo?", wa_id="50769990001"))
    env = {**os.environ, "META_GRAPH_BASE_URL": slow_url, "META_APP_SECRET": APP_SECRET, "LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen([sys.executable, "-c", f"from serving.worker import main; main({clean_db!r})"],
                              cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not received and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert received, "the worker never tried to send the reply"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # kill -9, mid-request: Meta has the message, we have no answer
        worker.wait(timeout=10)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        key, status = conn.execute("SELECT idempotency_key, status FROM crm.outbound_messages").fetchone()
        assert status == "sending", "committed as being sent before the request"
        # A minute and a half later (the orphan sweep's threshold), Meta's `sent` status arrives for it.
        conn.execute("UPDATE crm.outbound_messages SET sending_started_at = now() - interval '90 seconds'")
        conn.execute("UPDATE crm.procrastinate_workers SET last_heartbeat = now() - interval '5 minutes'")
    status_webhook = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "99"},
                                       "statuses": [{"id": "wamid.REPLY_THAT_WENT_OUT", "status": "sent",
                                                     "timestamp": str(T0 + 5), "recipient_id": "50769990001",
                                                     "biz_opaque_callback_data": key}]}}]}]}
    async with api_client(make_settings(clean_db)) as client:
        assert (await post_signed(client, status_webhook)).status_code == 200
    engine = create_engine(clean_db)
    try:
        async with session_factory(engine)() as session:
            assert await outbox.requeue_orphans(session) == 1, "the interrupted send gets a job again"
            await session.commit()
    finally:
        await engine.dispose()
    from serving import worker as worker_module

    async with worker_module.worker_resources(clean_db) as app:
        await worker_module.retry_stalled_jobs(app)  # the killed worker's job, stalled
    await drain(clean_db)  # against the regular sandbox: a resend would show there
    with psycopg.connect(clean_db) as conn:
        row = conn.execute("SELECT status, external_id FROM crm.outbound_messages").fetchone()
    assert row == ("sent", "wamid.REPLY_THAT_WENT_OUT"), "confirmed from Meta's webhook"
    assert len(received) == 1
    resent = [c for c in httpx2.get(f"{graph_sandbox}/_sandbox/messages").json()
              if (c.get("body") or {}).get("to") == "50769990001"]
    assert resent == [], "never sent a second time"


async def test_an_llm_provider_timing_out_leaves_the_answer_to_the_local_models(clean_db: str) -> None:
    def times_out(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("the provider did not answer in time", request=request)

    async with await psycopg.AsyncConnection.connect(clean_db, autocommit=True) as conn:
        key = await add_api_key(conn, "read")
    async with api_client(make_settings(clean_db)) as client:
        app = client.app
        provider = OpenAIProvider("sk-test", model="gpt-5-mini", max_retries=1, backoff_base_s=0.0, timeout_s=0.5,
                                  http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(times_out)))
        app.state.understanding.chain = AnalyzerChain([provider], app.state.understanding.local, mode="chain",
                                                      on_call=llm_call_recorder(lambda: app.state.sessions))
        started = time.monotonic()
        response = await client.post("/api/v1/leads/classify", headers=key,
                                     json={"message": "Necesito 50 sillas para el viernes, ¿precio?"})
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["ai_model_used"].startswith("local-nlu") and response.json()["score"] > 0
    assert elapsed < 30
    with psycopg.connect(clean_db) as conn:
        outcomes = {row for row in conn.execute("SELECT provider, outcome FROM crm.llm_calls")}
    assert ("openai", "timeout") in outcomes and ("local", "ok") in outcomes
