"""`crm templates sync` and the template choices built on it, on the real database, against the Graph sandbox
(in-process through httpx.ASGITransport, or served on a port for the CLI) and Graph errors in Meta's shape."""

from __future__ import annotations

import copy
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from crm.db.engine import create_engine, session_factory
from crm.security.secrets import encrypt_token
from crm.settings import Settings
from serving.sandbox import SANDBOX_TEMPLATES, create_sandbox
from serving.services.channels.graph import GraphClient
from serving.services.templates import (
    SyncReport,
    TemplateSyncError,
    approved_template,
    pick_reengagement_template,
    sync_templates,
)
from tests.helpers import count, fetch_one, make_settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "test-crm-secret-key"
FALLBACK_TOKEN = "env-meta-access-token"


class Graph:
    """A GraphClient on an in-process sandbox whose template list a test may change; remembers each request's
    path, query and Authorization header."""

    def __init__(self, templates: list[dict[str, Any]] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.templates = copy.deepcopy(SANDBOX_TEMPLATES) if templates is None else templates
        self.requests: list[httpx.Request] = []

        async def remember(request: httpx.Request) -> None:
            self.requests.append(request)

        transport = transport or httpx.ASGITransport(app=create_sandbox(templates=self.templates))
        self.client = GraphClient("http://sandbox.test", "v21.0", client=httpx.AsyncClient(
            transport=transport, event_hooks={"request": [remember]}))

    def tokens_by_account(self) -> dict[str, set[str | None]]:
        seen: dict[str, set[str | None]] = {}
        for request in self.requests:
            seen.setdefault(request.url.path.split("/")[2], set()).add(request.headers.get("authorization"))
        return seen


@pytest.fixture
def settings(clean_db: str) -> Settings:
    return make_settings(clean_db, crm_secret_key=SECRET_KEY, meta_access_token=FALLBACK_TOKEN)


@pytest.fixture
async def sessions(clean_db: str) -> AsyncIterator[Any]:
    engine = create_engine(clean_db)
    yield session_factory(engine)
    await engine.dispose()


async def add_whatsapp_account(db: psycopg.AsyncConnection, phone_number_id: str, waba_id: str | None,
                               token: str | None) -> None:
    await db.execute(
        "INSERT INTO crm.channel_accounts (channel, external_id, business_account_id, "
        "access_token_encrypted) VALUES ('whatsapp', %s, %s, %s)",
        (phone_number_id, waba_id, encrypt_token(token, SECRET_KEY) if token else None))


async def sync(sessions: Any, graph: Graph, settings: Settings, ids: list[str] | None = None) -> SyncReport:
    async with sessions() as session:
        report = await sync_templates(session, graph.client, settings, ids)
        await session.commit()
    return report


async def snapshot(db: psycopg.AsyncConnection) -> list[tuple]:
    cursor = await db.execute(
        "SELECT business_account_id, name, language, category, status, components, parameter_count, "
        "external_id, synced_at, updated_at FROM crm.whatsapp_templates "
        "ORDER BY business_account_id, name, language")
    return await cursor.fetchall()


def counts(report: SyncReport) -> list[tuple]:
    return [(a.business_account_id, a.added, a.updated, a.deleted, a.unchanged, a.error)
            for a in report.accounts]


async def template_row(db: psycopg.AsyncConnection, name: str, columns: str = "*") -> dict[str, Any]:
    return await fetch_one(db, f"SELECT {columns} FROM crm.whatsapp_templates WHERE name = %s", name)


async def test_first_sync_adds_every_page_and_a_second_changes_nothing(
    settings: Settings, sessions: Any, db: psycopg.AsyncConnection
) -> None:
    await add_whatsapp_account(db, "PHONE1", "WABA1", "token-one")
    extra = [{"name": f"aviso_{n:03}", "language": "es", "status": "APPROVED", "category": "UTILITY",
              "id": f"2{n:015}", "components": [{"type": "BODY", "text": "Aviso {{1}} de {{2}}"}]}
             for n in range(100)]
    graph = Graph(copy.deepcopy(SANDBOX_TEMPLATES) + extra)  # 105 templates: two pages of at most 100

    first = await sync(sessions, graph, settings)
    assert counts(first) == [("WABA1", 105, 0, 0, 0, None)] and first.ok
    assert len(graph.requests) == 2, "the next page was followed"
    assert graph.requests[1].url.params.get("after")
    assert await count(db, "whatsapp_templates") == 105
    row = await template_row(db, "seguimiento")
    assert (row["language"], row["category"], row["status"], row["parameter_count"], row["external_id"]) == (
        "es", "UTILITY", "APPROVED", 1, "1000000000000001")
    assert row["components"][0]["text"].startswith("Hola {{1}}, ¿seguimos con tu consulta?")
    assert row["synced_at"] is not None
    assert (await template_row(db, "aviso_007"))["parameter_count"] == 2

    before = await snapshot(db)
    second = await sync(sessions, graph, settings)
    assert counts(second) == [("WABA1", 0, 0, 0, 105, None)]
    assert [r[:8] for r in await snapshot(db)] == [r[:8] for r in before], "nothing Meta reports changed"


async def test_a_template_meta_no_longer_lists_is_kept_as_deleted(
    settings: Settings, sessions: Any, db: psycopg.AsyncConnection
) -> None:
    await add_whatsapp_account(db, "PHONE1", "WABA1", "token-one")
    graph = Graph()
    await sync(sessions, graph, settings)
    csat_before = await template_row(db, "csat_survey", "synced_at")

    graph.templates[:] = [t for t in graph.templates if t["name"] != "csat_survey"]
    next(t for t in graph.templates if t["name"] == "oferta_semanal")["status"] = "REJECTED"
    report = await sync(sessions, graph, settings)
    assert counts(report) == [("WABA1", 0, 1, 1, 3, None)]
    csat = await template_row(db, "csat_survey", "status, synced_at")
    assert csat == {"status": "DELETED", "synced_at": csat_before["synced_at"]}, "kept, last seen unchanged"
    assert (await template_row(db, "oferta_semanal"))["status"] == "REJECTED"

    again = await sync(sessions, graph, settings)
    assert counts(again) == [("WABA1", 0, 0, 0, 4, None)], "a row already DELETED is not deleted again"
    graph.templates.append(copy.deepcopy(next(t for t in SANDBOX_TEMPLATES if t["name"] == "csat_survey")))
    back = await sync(sessions, graph, settings)
    assert counts(back) == [("WABA1", 0, 1, 0, 4, None)]
    assert (await template_row(db, "csat_survey"))["status"] == "APPROVED"


async def test_each_account_is_read_with_its_own_token(
    settings: Settings, sessions: Any, db: psycopg.AsyncConnection
) -> None:
    await add_whatsapp_account(db, "PHONE1", "WABA1", "token-one")
    await add_whatsapp_account(db, "PHONE1B", "WABA1", None)  # a second number of the same account
    await add_whatsapp_account(db, "PHONE2", "WABA2", "token-two")
    await add_whatsapp_account(db, "PHONE3", "WABA3", None)  # no token of its own: META_ACCESS_TOKEN
    await add_whatsapp_account(db, "PHONE4", None, "token-four")  # no WABA id: nothing to read
    graph = Graph()

    report = await sync(sessions, graph, settings)
    assert [a.business_account_id for a in report.accounts] == ["WABA1", "WABA2", "WABA3"] and report.ok
    assert graph.tokens_by_account() == {"WABA1": {"Bearer token-one"}, "WABA2": {"Bearer token-two"},
                                         "WABA3": {f"Bearer {FALLBACK_TOKEN}"}}
    for waba in ("WABA1", "WABA2", "WABA3"):
        stored = await count(db, "whatsapp_templates", "business_account_id = %s", waba)
        assert stored == len(SANDBOX_TEMPLATES)

    graph.requests.clear()
    only = await sync(sessions, graph, settings, ["WABA2", "WABA9"])
    assert [a.business_account_id for a in only.accounts] == ["WABA2", "WABA9"]
    assert graph.tokens_by_account() == {"WABA2": {"Bearer token-two"}, "WABA9": {f"Bearer {FALLBACK_TOKEN}"}}


async def test_no_account_to_synchronize_is_said_plainly(settings: Settings, sessions: Any,
                                                          db: psycopg.AsyncConnection) -> None:
    await add_whatsapp_account(db, "PHONE4", None, "token-four")
    with pytest.raises(TemplateSyncError, match="business_account_id"):
        await sync(sessions, Graph(), settings)


async def test_a_graph_error_fails_that_account_and_changes_nothing(
    settings: Settings, sessions: Any, db: psycopg.AsyncConnection
) -> None:
    await add_whatsapp_account(db, "PHONE1", "WABA1", "token-one")
    await add_whatsapp_account(db, "PHONE2", "WABA2", "token-two")
    await sync(sessions, Graph(), settings)
    before = await snapshot(db)

    expired = {"error": {"message": "Error validating access token: Session has expired.",
                         "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "A1"}}
    sandbox = httpx.ASGITransport(app=create_sandbox(templates=[SANDBOX_TEMPLATES[0]]))

    async def meta(request: httpx.Request) -> httpx.Response:
        if "/WABA1/" in request.url.path:
            return httpx.Response(400, json=expired)
        return await sandbox.handle_async_request(request)

    report = await sync(sessions, Graph(transport=httpx.MockTransport(meta)), settings)
    assert not report.ok
    failed, synced = report.accounts
    assert failed.business_account_id == "WABA1"
    assert "190" in failed.error and "Session has expired" in failed.error
    assert (synced.added, synced.deleted, synced.error) == (0, 4, None), "the other account went on"
    after = await snapshot(db)
    assert [r for r in after if r[0] == "WABA1"] == [r for r in before if r[0] == "WABA1"]


async def test_a_failure_on_a_later_page_writes_nothing(
    settings: Settings, sessions: Any, db: psycopg.AsyncConnection
) -> None:
    await add_whatsapp_account(db, "PHONE1", "WABA1", "token-one")
    first_page = {"data": [SANDBOX_TEMPLATES[0]], "paging": {
        "cursors": {"before": "QVFI1", "after": "QVFI2"},
        "next": "http://sandbox.test/v21.0/WABA1/message_templates?limit=1&after=QVFI2"}}
    throttled = {"error": {"type": "OAuthException", "code": 80008, "fbtrace_id": "A2",
                           "message": "(#80008) There have been too many calls to this WhatsApp Business "
                                      "account."}}

    def meta(request: httpx.Request) -> httpx.Response:
        if "after" in request.url.params:
            return httpx.Response(400, json=throttled)
        return httpx.Response(200, json=first_page)

    report = await sync(sessions, Graph(transport=httpx.MockTransport(meta)), settings)
    assert counts(report)[0][:5] == ("WABA1", 0, 0, 0, 0) and "too many calls" in report.accounts[0].error
    assert await count(db, "whatsapp_templates") == 0


async def test_the_window_logic_finds_approved_templates_in_the_customers_language(
    settings: Settings, sessions: Any, db: psycopg.AsyncConnection
) -> None:
    await add_whatsapp_account(db, "PHONE1", "WABA1", "token-one")
    graph = Graph()
    graph.templates.append({"name": "reengagement", "language": "es_ES", "status": "APPROVED", "id": "3",
                            "category": "MARKETING", "components": [{"type": "BODY", "text": "¡Hola!"}]})
    graph.templates.append({"name": "seguimiento", "language": "es_MX", "status": "APPROVED", "id": "4",
                            "category": "UTILITY", "components": [{"type": "BODY", "text": "Qué tal {{1}}"}]})
    await sync(sessions, graph, settings)

    async with sessions() as session:
        assert (await approved_template(session, "WABA1", "seguimiento", "es_PA")).language == "es"
        assert (await approved_template(session, "WABA1", "seguimiento", "es_MX")).language == "es_MX"
        assert (await approved_template(session, "WABA1", "follow_up", "en")).language == "en_US"
        assert await approved_template(session, "WABA1", "oferta_semanal", "es") is None, "PENDING: never"
        assert await approved_template(session, "WABA2", "seguimiento", "es") is None, "another account's"

        picked = await pick_reengagement_template(session, "WABA1", "es_PA")
        assert (picked.name, picked.language) == ("seguimiento", "es"), "UTILITY before MARKETING"
        assert (await pick_reengagement_template(session, "WABA1", "en_GB")).name == "follow_up"
        assert (await pick_reengagement_template(session, "WABA1", "es", categories=("MARKETING",))).name \
            == "reengagement"
        assert await pick_reengagement_template(session, "WABA1", "fr") is None
        no_parameters = await pick_reengagement_template(session, "WABA1", "es", max_parameters=0)
        assert no_parameters.name == "reengagement"

    graph.templates[:] = [t for t in graph.templates if t["name"] != "follow_up"]
    await sync(sessions, graph, settings)
    async with sessions() as session:
        assert await pick_reengagement_template(session, "WABA1", "en_US") is None, "DELETED is never picked"
        assert await approved_template(session, "WABA1", "follow_up", "en_US") is None


# -- the command line ---------------------------------------------------------------------------------------


def crm(database_url: str, graph_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "COLUMNS": "250",
           "META_GRAPH_BASE_URL": graph_url, "CRM_SECRET_KEY": SECRET_KEY, "APP_ENV": "development"}
    return subprocess.run([sys.executable, "-m", "crm.cli.main", "templates", *args], cwd=ROOT, check=False,
                          capture_output=True, text=True, env=env, timeout=120)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_sync_and_list_through_the_cli(clean_db: str, graph_sandbox: str,
                                              db: psycopg.AsyncConnection) -> None:
    nothing = crm(clean_db, graph_sandbox, "sync")
    assert nothing.returncode == 1, nothing.stdout + nothing.stderr
    assert "nothing to synchronize" in nothing.stdout

    await add_whatsapp_account(db, "PHONE1", "WABA1", "token-one")
    async with httpx.AsyncClient(base_url=graph_sandbox) as sandbox:
        await sandbox.delete("/_sandbox/messages")
    first = crm(clean_db, graph_sandbox, "sync")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "│ WABA1   │ 5     │ 0       │ 0       │ 0         │ ok" in first.stdout, first.stdout
    async with httpx.AsyncClient(base_url=graph_sandbox) as sandbox:
        recorded = (await sandbox.get("/_sandbox/messages")).json()
    assert [(r["method"], r["path"]) for r in recorded] == [("GET", "/v21.0/WABA1/message_templates")]

    listed = crm(clean_db, graph_sandbox, "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.splitlines()
    seguimiento = next(line for line in lines if "seguimiento" in line)
    cells = [cell.strip() for cell in seguimiento.split("│")[1:-1]]
    assert cells == ["WABA1", "seguimiento", "es", "UTILITY", "APPROVED", "1"]
    assert any("oferta_semanal" in line and "PENDING" in line and "2" in line for line in lines)

    before = await snapshot(db)
    down = crm(clean_db, closed_port_url(), "sync", "--account", "WABA1")
    assert down.returncode == 1
    assert "failed, nothing changed" in down.stdout and "could not be reached" in down.stdout, down.stdout
    assert await snapshot(db) == before
