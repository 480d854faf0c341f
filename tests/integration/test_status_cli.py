"""`crm status`: what is down shows as down (exit 1), what runs shows its figures, warnings keep exit 0."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from crm.cli.status import check_dagster
from crm.db.urls import with_database
from tests.conftest import TEST_DATABASE
from tests.helpers import make_settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def crm_status(database_url: str, api_port: int, **env: str) -> tuple[int, dict[str, dict[str, str]]]:
    environment = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "API_HOST": "127.0.0.1",
                   "API_PORT": str(api_port), "APP_ENV": "development", "CRM_RUN_DIR": str(ROOT / ".run-status-test"),
                   **env}
    result = subprocess.run([sys.executable, "-m", "crm.cli.main", "status", "--json"], cwd=ROOT, check=False,
                            capture_output=True, text=True, env=environment, timeout=120)
    assert result.stdout.strip().startswith("["), result.stdout + result.stderr
    return result.returncode, {check["component"]: check for check in json.loads(result.stdout)}


@pytest.fixture
def running_api(clean_db: str) -> Iterator[int]:
    """The real API app served on a free port (in a thread), as `crm serve` would serve it."""
    import uvicorn

    from serving.main import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(make_settings(clean_db, api_port=port)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def test_with_nothing_running_the_api_and_worker_are_down(clean_db: str) -> None:
    code, checks = crm_status(clean_db, free_port())
    assert code == 1
    assert checks["API"]["state"] == "down" and "not reachable" in checks["API"]["detail"]
    assert checks["worker"]["state"] == "down" and "no heartbeat" in checks["worker"]["detail"]
    assert checks["database"]["state"] == "ok"
    assert checks["dead letters"] == {"component": "dead letters", "state": "ok", "detail": "none"}
    assert checks["n8n"]["state"] == "info" and "direct mode" in checks["n8n"]["detail"]
    assert "Graph API" in checks and "queue inbound" in checks


def test_a_running_api_and_worker_are_ok_and_warnings_keep_exit_zero(clean_db: str, running_api: int) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.procrastinate_workers (last_heartbeat) VALUES (now()), "
                     "(now() - interval '10 minutes')")
        conn.execute("INSERT INTO crm.raw_webhook_events (body_sha256, signature_state, processing_status) "
                     "VALUES (%s, 'valid', 'dead_letter')", (os.urandom(32),))
        conn.execute("INSERT INTO crm.outbound_messages (idempotency_key, channel, account_external_id, "
                     "recipient_external_id, payload, status) VALUES ('k', 'whatsapp', 'PN1', '507', '{}', 'failed')")
        job = conn.execute("INSERT INTO crm.procrastinate_jobs (queue_name, task_name) VALUES ('outbound', 'send') "
                           "RETURNING id").fetchone()[0]
        conn.execute("UPDATE crm.procrastinate_events SET at = now() - interval '10 minutes' WHERE job_id = %s",
                     (job,))

    code, checks = crm_status(clean_db, running_api)
    assert code == 0, checks
    assert checks["API"]["state"] == "ok" and f"127.0.0.1:{running_api}" in checks["API"]["detail"]
    assert checks["worker"] == {"component": "worker", "state": "ok",
                                "detail": "1 process with a heartbeat in the last 60 s"}
    assert checks["dead letters"]["state"] == "warn" and checks["dead letters"]["detail"].startswith("1 raw event")
    assert checks["outbound failures"] == {"component": "outbound failures", "state": "warn",
                                           "detail": "1 in the last hour (see crm.outbound_messages.last_error)"}
    assert checks["queue outbound"]["state"] == "warn", "a ready job waiting 10 minutes is a warning"
    assert checks["queue outbound"]["detail"].startswith("1 ready, 0 scheduled, 0 running; oldest ready job "
                                                         "waiting 10 min")

    # n8n, when configured, must answer its health check (here the API's own /healthz stands in for it).
    code, checks = crm_status(clean_db, running_api, N8N_BASE_URL=f"http://127.0.0.1:{running_api}")
    assert code == 0 and checks["n8n"]["state"] == "ok"
    code, checks = crm_status(clean_db, running_api, N8N_BASE_URL=f"http://127.0.0.1:{free_port()}")
    assert code == 1 and checks["n8n"]["state"] == "down"


@pytest.fixture
def dagster_database(database_url: str) -> Iterator[str]:
    name = f"{TEST_DATABASE}_dagster_status"
    admin = with_database(database_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield with_database(database_url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_last_dagster_run_is_read_from_its_run_storage(dagster_database: str) -> None:
    missing = check_dagster(dagster_database)
    assert (missing.state, missing.detail) == ("warn", "dagster database missing (`crm db up` creates it)")

    name = dagster_database.rsplit("/", 1)[1]
    with psycopg.connect(with_database(dagster_database, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    assert check_dagster(dagster_database).detail.startswith("no runs yet")

    with psycopg.connect(dagster_database, autocommit=True) as conn:
        # The columns of Dagster's `runs` table that the check reads (dagster/_core/storage/runs/schema.py).
        conn.execute("CREATE TABLE runs (id bigserial PRIMARY KEY, run_id varchar(255), pipeline_name text, "
                     "status varchar(63), create_timestamp timestamp DEFAULT (now() AT TIME ZONE 'UTC'), "
                     "update_timestamp timestamp DEFAULT (now() AT TIME ZONE 'UTC'), start_time float, "
                     "end_time float)")
        assert check_dagster(dagster_database).detail == "no runs yet"
        conn.execute("INSERT INTO runs (run_id, pipeline_name, status, start_time, end_time) VALUES "
                     "('a', '__ASSET_JOB', 'SUCCESS', 1795668000, 1795668040)")
        ok = check_dagster(dagster_database)
        assert ok.state == "ok" and ok.detail.startswith("last run SUCCESS (__ASSET_JOB) at 2026-11-26 04:40 UTC")
        conn.execute("INSERT INTO runs (run_id, pipeline_name, status, start_time) VALUES "
                     "('b', 'contacts_job', 'FAILURE', extract(epoch FROM now()) - 30)")
        failed = check_dagster(dagster_database)
        assert failed.state == "warn" and failed.detail.startswith("last run FAILURE (contacts_job)")
        assert re.search(r"\((3[0-3]) s ago\)$", failed.detail), failed.detail
