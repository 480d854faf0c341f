"""Shared fixtures: the real PostgreSQL the project starts (a separate test cluster), a migrated database,
and a clean slate for every test that touches it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from crm.db.local_pg import TEST, LocalCluster
from crm.db.urls import with_database

ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures" / "meta"
PROJECT_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "meta"
# Helpers running suites side by side each set their own CRM_TEST_DATABASE (the database is recreated per run).
TEST_DATABASE = os.environ.get("CRM_TEST_DATABASE", "crm_test")

# Tables whose rows belong to one test; alembic_version and procrastinate's own bookkeeping of workers stay.
_KEEP = {"alembic_version"}


def meta_fixture_files() -> list[Path]:
    files = sorted(PROJECT_FIXTURES.glob("*.json"))
    if SHARED_FIXTURES.is_dir():
        files = sorted(SHARED_FIXTURES.glob("*.json")) + files
    return files


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A freshly created, migrated `crm_test` database on TEST_DATABASE_URL's server or the test cluster."""
    from crm.db.migrate import upgrade

    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        server_url = LocalCluster(TEST).up()
    admin_url = with_database(server_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    url = with_database(server_url, TEST_DATABASE)
    upgrade(url)
    os.environ["DATABASE_URL"] = url
    from crm.settings import get_settings

    get_settings.cache_clear()
    yield url


def truncate_all(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'crm'")
            if row[0] not in _KEEP
        ]
        conn.execute("TRUNCATE " + ", ".join(f"crm.{t}" for t in tables) + " RESTART IDENTITY CASCADE")


@pytest.fixture
def clean_db(database_url: str) -> str:
    truncate_all(database_url)
    return database_url


@pytest.fixture
async def db(clean_db: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """An autocommit connection for assertions."""
    conn = await psycopg.AsyncConnection.connect(clean_db, autocommit=True, options="-c search_path=crm,public")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def graph_sandbox() -> Iterator[str]:
    """The Graph sandbox on a free port, in a thread; sends from the worker go there (not to Meta)."""
    import socket
    import threading
    import time

    import uvicorn

    from serving.sandbox import create_sandbox

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_sandbox(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    os.environ["META_GRAPH_BASE_URL"] = url
    from crm.settings import get_settings

    get_settings.cache_clear()
    yield url
    server.should_exit = True
    thread.join(timeout=5)
