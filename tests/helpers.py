"""Helpers for tests: build an app bound to a database and talk to it in-process, signed like Meta."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import psycopg

from crm.settings import Settings
from serving.main import create_app
from serving.services.ingest.signature import sign

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
WEBHOOK = "/api/v1/webhooks/inbound"
# Message times in tests are recent: the 24-hour customer-service window decides what may be sent.
T0 = int(time.time()) - 3600
T0_MS = T0 * 1000


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "meta_app_secret": [APP_SECRET],
        "meta_verify_token": VERIFY_TOKEN,
        "app_env": "test",
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.app = app  # type: ignore[attr-defined] - tests reach app.state (e.g. to swap the LLM chain)
            yield client


def signed_headers(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}


async def post_signed(client: httpx.AsyncClient, body: bytes | dict, secret: str = APP_SECRET) -> httpx.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post(WEBHOOK, content=raw, headers=signed_headers(raw, secret))


async def add_api_key(conn: psycopg.AsyncConnection, scope: str = "read", revoked: bool = False,
                      agent_id: int | None = None) -> dict[str, str]:
    """A key stored as `crm apikey create` stores it (bound to an agent if given); returns the Authorization header
    that uses it."""
    from crm.security.api_keys import generate_key, hash_key

    key = generate_key()
    await conn.execute(
        "INSERT INTO crm.api_keys (name, scope, prefix, key_hash, revoked_at, agent_id) "
        "VALUES (%s, %s, 'p', %s, %s, %s)",
        (f"{scope}-key", scope, hash_key(key), "2026-01-01" if revoked else None, agent_id),
    )
    return {"Authorization": f"Bearer {key}"}


async def count(conn: psycopg.AsyncConnection, table: str, where: str = "TRUE", *params: Any) -> int:
    cursor = await conn.execute(f"SELECT count(*) FROM crm.{table} WHERE {where}", params or None)
    return (await cursor.fetchone())[0]


async def fetch_one(conn: psycopg.AsyncConnection, sql: str, *params: Any) -> dict[str, Any]:
    from psycopg.rows import dict_row

    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(sql, params or None)
        row = await cursor.fetchone()
        assert row is not None, f"no row for: {sql}"
        return row
