"""`crm channels` and `crm agents` / agent keys as an operator uses them."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from crm.security.secrets import decrypt_token
from tests.helpers import fetch_one

pytestmark = pytest.mark.integration
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
SECRET_KEY = "cli-test-secret"


def crm(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "COLUMNS": "250",
                   "CRM_SECRET_KEY": SECRET_KEY, "APP_ENV": "development", **env}
    return subprocess.run([sys.executable, "-m", "crm.cli.main", *args], cwd=ROOT, check=False,
                          capture_output=True, text=True, env=environment, timeout=120)


async def test_a_channel_account_keeps_its_token_encrypted_and_never_prints_it(
        clean_db: str, db: psycopg.AsyncConnection) -> None:
    added = crm(clean_db, "channels", "add", "--channel", "whatsapp", "--id", "PN1", "--business-account", "WABA1",
                "--token-env", "SHOP_TOKEN", SHOP_TOKEN="EAAG-very-secret")
    assert added.returncode == 0, added.stdout + added.stderr
    row = await fetch_one(db, "SELECT business_account_id, access_token_encrypted FROM crm.channel_accounts")
    assert row["business_account_id"] == "WABA1"
    assert b"EAAG" not in bytes(row["access_token_encrypted"])
    assert decrypt_token(bytes(row["access_token_encrypted"]), SECRET_KEY) == "EAAG-very-secret"
    listed = crm(clean_db, "channels", "list")
    assert "WABA1" in listed.stdout and "stored" in listed.stdout and "EAAG" not in listed.stdout
    missing = crm(clean_db, "channels", "add", "--channel", "whatsapp", "--id", "PN2", "--token-env", "NOPE")
    assert missing.returncode == 2 and "NOPE is not set" in missing.stdout


async def test_an_agent_key_must_belong_to_an_agent(clean_db: str, db: psycopg.AsyncConnection) -> None:
    added = crm(clean_db, "agents", "add", "Lucía Herrera", "--department", "sales_team", "--skill", "laptops")
    assert added.returncode == 0 and "added agent 1" in added.stdout, added.stdout + added.stderr
    unbound = crm(clean_db, "apikey", "create", "--name", "x", "--scope", "agent")
    assert unbound.returncode == 2
    bound = crm(clean_db, "apikey", "create", "--name", "lucia", "--scope", "agent", "--agent", "1")
    assert bound.returncode == 0, bound.stdout + bound.stderr
    assert (await fetch_one(db, "SELECT agent_id FROM crm.api_keys"))["agent_id"] == 1
    away = crm(clean_db, "agents", "availability", "1", "--away")
    assert away.returncode == 0
    assert (await fetch_one(db, "SELECT available, skills FROM crm.agents")) == {"available": False,
                                                                                 "skills": ["laptops"]}
