"""Against a real n8n 2.8.4: every workflow in n8n/workflows imports and activates; then the whole path runs — a
sensor tick raises an event, the dispatcher posts it signed to n8n, the workflow checks the signature and calls the
serving action with its API-key credential, and the worker sends the message to the Graph sandbox. A bad signature
is refused by the workflow. n8n comes from `make test` (scripts/install_n8n.sh); without it this test fails."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from orchestration.defs.automation.schedules import tick
from orchestration.defs.resources import WarehouseResource
from tests.e2e.test_serve_and_demo import ROOT, crm, free_port, stack_env  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e
WORKFLOWS = sorted((ROOT / "n8n" / "workflows").glob("*.json"))
SECRET = "n8n-e2e-secret"


def n8n_binary() -> str:
    binary = os.environ.get("N8N_BIN") or str(Path.home() / ".cache/autonomous-crm/n8n-2.8.4/node_modules/.bin/n8n")
    if not Path(binary).exists():
        pytest.fail("n8n is not installed: run `make test` (it installs n8n 2.8.4 with scripts/install_n8n.sh; "
                    "Node.js 20 and npm are needed)")
    return binary


@pytest.fixture
def n8n(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:  # noqa: F811
    """n8n with the CRM's credential and every workflow imported and published, started on free ports."""
    binary, port = n8n_binary(), free_port()
    api = f"http://127.0.0.1:{stack_env['API_PORT']}"
    env = {**os.environ, "N8N_USER_FOLDER": str(tmp_path / "n8n"), "N8N_DIAGNOSTICS_ENABLED": "false",
           "N8N_VERSION_NOTIFICATIONS_ENABLED": "false", "N8N_PERSONALIZATION_ENABLED": "false",
           "N8N_HOST": "127.0.0.1", "N8N_LISTEN_ADDRESS": "127.0.0.1", "N8N_PORT": str(port), "N8N_PROTOCOL": "http",
           "N8N_RUNNERS_BROKER_PORT": str(free_port()), "WEBHOOK_URL": f"http://127.0.0.1:{port}/",
           "NODE_FUNCTION_ALLOW_BUILTIN": "crypto", "N8N_BLOCK_ENV_ACCESS_IN_NODE": "false",
           "AUTOMATION_WEBHOOK_SECRET": SECRET, "CRM_API_BASE_URL": api}
    key = crm("apikey", "create", "--name", "n8n", "--scope", "automation", env=stack_env)
    assert key.returncode == 0, key.stderr
    token = key.stdout.strip().splitlines()[-1].split()[-1]
    credential = tmp_path / "credential.json"
    credential.write_text((ROOT / "n8n/credentials/crm_api.example.json").read_text()
                          .replace("REPLACE_WITH_AUTOMATION_API_KEY", token))

    def cli(*args: str) -> None:
        done = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"n8n {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    cli("import:credentials", f"--input={credential}")
    for workflow in WORKFLOWS:
        cli("import:workflow", f"--input={workflow}")
    for workflow in WORKFLOWS:  # imports land inactive; publish with n8n stopped
        cli("publish:workflow", f"--id={json.loads(workflow.read_text())['id']}")
    log = (tmp_path / "n8n.log").open("w")
    process = subprocess.Popen([binary, "start"], env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:  # ready when a workflow answers an unsigned POST with its own 401
            try:
                if httpx.post(f"{base}/webhook/crm-12", json={}, timeout=2).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "n8n.log").read_text()[-3000:]
            time.sleep(0.3)
        yield base, env
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()


def test_every_workflow_has_the_verified_shape() -> None:
    assert [w.name[:2] for w in WORKFLOWS] == ["01", "07", "08", "10", "11", "12", "13", "22"]
    for path in WORKFLOWS:
        workflow = json.loads(path.read_text())
        types = {n["name"]: n["type"] for n in workflow["nodes"]}
        assert types["CRM event webhook"] == "n8n-nodes-base.webhook" and "Verify HMAC signature" in types
        assert {"Respond 200 ok", "Respond 401 bad signature", "Respond 502 action failed"} <= set(types)
        flow = path.name[:2]
        webhook = next(n for n in workflow["nodes"] if n["name"] == "CRM event webhook")
        assert webhook["parameters"]["path"] == f"crm-{flow}" and webhook["parameters"]["options"]["rawBody"]


def test_a_tick_reaches_the_customer_through_n8n(stack_env: dict[str, str], n8n, graph_sandbox: str,  # noqa: F811
                                                 clean_db: str) -> None:
    base, _ = n8n
    # The served worker's dispatcher delivers to n8n (every minute), as in production.
    env = {**stack_env, "AUTOMATION_QUIET_START_HOUR": "0", "AUTOMATION_QUIET_END_HOUR": "0",
           "N8N_BASE_URL": base, "AUTOMATION_WEBHOOK_SECRET": SECRET}
    started = crm("serve", "--detach", env=env, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    now = datetime.now(UTC)
    with psycopg.connect(clean_db, autocommit=True) as conn:  # a customer who wrote 2 h ago and left a cart
        contact = conn.execute("INSERT INTO crm.contacts (display_name, first_name, language) VALUES "
                               "('Ana Ruiz', 'Ana', 'es') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO crm.contact_identities (contact_id, channel, kind, external_id, "
                     "account_external_id) VALUES (%s, 'whatsapp', 'wa_id', '50761234567', '1234567890')",
                     (contact,))
        conversation = conn.execute(
            "INSERT INTO crm.conversations (contact_id, channel, account_external_id, status, last_message_at, "
            "last_inbound_at) VALUES (%s, 'whatsapp', '1234567890', 'open', %s, %s) RETURNING id",
            (contact, now - timedelta(hours=2), now - timedelta(hours=2))).fetchone()[0]
        conn.execute("INSERT INTO crm.messages (channel, dedup_key, direction, message_type, text, "
                     "counterpart_external_id, sent_at, contact_id, conversation_id) VALUES ('whatsapp', 'n8n-1', "
                     "'inbound', 'text', 'hola', '50761234567', %s, %s, %s)",
                     (now - timedelta(hours=2), contact, conversation))
        conn.execute("INSERT INTO crm.carts (contact_id, status, total, last_activity_at, checkout_url) VALUES "
                     "(%s, 'open', 80, %s, 'https://shop.example/c/n8n')", (contact, now - timedelta(hours=2)))
    assert tick(WarehouseResource(dsn=clean_db), ("cart",), now, "America/Panama") == {"cart": 1}

    deadline = time.monotonic() + 150  # the worker's periodic dispatcher runs every minute
    while time.monotonic() < deadline:
        sent = [m for m in httpx.get(f"{graph_sandbox}/_sandbox/messages", timeout=5).json()
                if "https://shop.example/c/n8n" in json.dumps(m)]
        if sent:
            break
        time.sleep(1)
    time.sleep(3)  # anything sent twice would show by now
    sent = [m for m in httpx.get(f"{graph_sandbox}/_sandbox/messages", timeout=5).json()
            if "https://shop.example/c/n8n" in json.dumps(m)]
    assert len(sent) == 1, "the cart message reached the Graph API exactly once"
    with psycopg.connect(clean_db) as conn:
        status, target = conn.execute("SELECT status, target FROM crm.automation_events "
                                      "WHERE event_type = 'cart.abandoned'").fetchone()
    assert (status, target) == ("delivered", "n8n"), "through n8n, not the local shortcut"

    forged = httpx.post(f"{base}/webhook/crm-12", json={"event_id": 1}, timeout=10,
                        headers={"X-CRM-Signature": "sha256=" + "0" * 64})
    assert forged.status_code == 401 and forged.json() == {"ok": False, "error": "invalid signature"}
