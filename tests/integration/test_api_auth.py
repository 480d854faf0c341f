"""Every /api/v1 route but the webhook needs a Bearer API key with the right scope."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from crm.security.api_keys import hash_key
from tests.helpers import add_api_key, api_client, make_settings

pytestmark = pytest.mark.integration


async def test_routes_need_a_valid_key_with_the_right_scope(clean_db: str, db: psycopg.AsyncConnection) -> None:
    read_key = await add_api_key(db, "read")
    admin_key = await add_api_key(db, "admin")
    revoked = await add_api_key(db, "admin", revoked=True)
    async with api_client(make_settings(clean_db)) as client:
        assert (await client.get("/api/v1/events")).status_code == 401
        assert (await client.get("/api/v1/events", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await client.get("/api/v1/events", headers=revoked)).status_code \
            == 401
        ok = await client.get("/api/v1/events", headers=read_key)
        assert ok.status_code == 200 and ok.json() == []
        stats = await client.get("/api/v1/events/stats", headers=read_key)
        assert stats.status_code == 200 and stats.json()["contacts"] == 0
        forbidden = await client.post("/api/v1/events/1/retry", headers=read_key)
        assert forbidden.status_code == 403
        missing = await client.post("/api/v1/events/999/retry", headers=admin_key)
        assert missing.status_code == 404
    last_used = await (await db.execute(
        "SELECT count(*) FROM crm.api_keys WHERE last_used_at IS NOT NULL")).fetchone()
    assert last_used[0] == 2


def test_cli_creates_a_key_that_is_stored_only_hashed(clean_db: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crm.cli.main", "apikey", "create", "--name", "n8n", "--scope", "automation"],
        capture_output=True, text=True, check=True, env={"DATABASE_URL": clean_db, "PATH": "/usr/bin:/bin"},
    )
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("crm_") and len(key) > 30
    with psycopg.connect(clean_db) as conn:
        name, scope, stored = conn.execute("SELECT name, scope, key_hash FROM crm.api_keys").fetchone()
    assert (name, scope, stored) == ("n8n", "automation", hash_key(key))
    bad = subprocess.run(
        [sys.executable, "-m", "crm.cli.main", "apikey", "create", "--name", "x", "--scope", "root"],
        capture_output=True, text=True, env={"DATABASE_URL": clean_db, "PATH": "/usr/bin:/bin"},
    )
    assert bad.returncode == 2 and "unknown scope" in bad.stdout + bad.stderr
