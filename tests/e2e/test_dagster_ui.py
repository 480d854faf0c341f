"""`crm ui`: the Dagster webserver and daemon answer on their port with the code location loaded."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import psycopg
import pytest

from crm.db.urls import with_database
from tests.e2e.test_serve_and_demo import crm, free_port

pytestmark = pytest.mark.e2e


def test_the_dagster_ui_answers_with_the_code_location_loaded(clean_db: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": clean_db, "CRM_RUN_DIR": str(tmp_path / "run"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    with psycopg.connect(with_database(clean_db, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'dagster'").fetchone():
            conn.execute("CREATE DATABASE dagster")
    try:
        started = crm("ui", "--detach", "--port", str(port), env=env, timeout=180)
        assert started.returncode == 0, started.stdout + started.stderr
        query = "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } " \
                "assetNodes { assetKey { path } } }"
        answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=30).json()["data"]
        [entry] = answer["workspaceOrError"]["locationEntries"]
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        assert ["crm", "contacts"] in [node["assetKey"]["path"] for node in answer["assetNodes"]]
        assert (tmp_path / "dagster_home" / "dagster.yaml").read_text().count("DAGSTER_PG_URL") == 1
    finally:
        stopped = crm("stop", env=env)
    assert "stopped dagster" in stopped.stderr
