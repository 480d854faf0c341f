"""`crm db backup` / `crm db restore` as an operator runs them: a backup restored into an empty database is the
same data, a non-empty target is refused unless --force, and a bad file changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from crm.db.urls import with_database
from tests.conftest import TEST_DATABASE

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RESTORED = f"{TEST_DATABASE}_restored"


def crm(database_url: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    environment = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "COLUMNS": "250",
                   "APP_ENV": "development", "CRM_RUN_DIR": str(cwd / ".run-none")}
    return subprocess.run([sys.executable, "-m", "crm.cli.main", *args], cwd=cwd, check=False,
                          capture_output=True, text=True, env=environment, timeout=180)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    """A new, empty database on the test server (dropped afterwards)."""
    admin = with_database(database_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{RESTORED}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{RESTORED}"')
    yield with_database(database_url, RESTORED)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{RESTORED}" WITH (FORCE)')


BODY = os.urandom(64) + b"\x00\xff raw bytes survive"


def seed(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.contacts (display_name, phone_e164, attributes) VALUES "
                     "('Lucía Pérez', '+50760000001', '{\"vip\": true}'), ('Ana', '+50760000002', '{}'), "
                     "('Bob', NULL, '{}')")
        conn.execute("INSERT INTO crm.conversations (contact_id, channel) SELECT id, 'whatsapp' FROM crm.contacts")
        raw_id = conn.execute("INSERT INTO crm.raw_webhook_events (body, body_sha256, signature_state) "
                              "VALUES (%s, %s, 'valid') RETURNING id", (BODY, os.urandom(32))).fetchone()[0]
        conn.execute("INSERT INTO crm.messages (channel, dedup_key, direction, message_type, text, raw_event_id, "
                     "counterpart_external_id, contact_id, conversation_id) SELECT 'whatsapp', 'm' || c.id, "
                     "'inbound', 'text', '¿tienen el iPhone 15?', %s, '5076000', c.contact_id, c.id "
                     "FROM crm.conversations c", (raw_id,))
        conn.execute("INSERT INTO crm.outbound_messages (idempotency_key, channel, account_external_id, "
                     "recipient_external_id, payload, status) VALUES ('reply:1', 'whatsapp', 'PN1', '5076000', "
                     "'{\"text\": {\"body\": \"¡Sí!\"}}', 'sent')")
        conn.execute("INSERT INTO crm.procrastinate_jobs (queue_name, task_name) VALUES ('inbound', 'process')")


def row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [f"{schema}.{name}" for schema, name in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2")]
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables}


def test_a_backup_restored_into_an_empty_database_is_the_same_data(
        clean_db: str, empty_database: str, tmp_path: Path) -> None:
    seed(clean_db)
    # A relative FILE is written where the command runs, not where the tools happen to run.
    made = crm(clean_db, "db", "backup", "crm.dump", cwd=tmp_path)
    assert made.returncode == 0, output(made)
    dump = tmp_path / "crm.dump"
    assert dump.read_bytes()[:5] == b"PGDMP" and "backup written to" in output(made)
    assert not list(tmp_path.glob(".*.partial")), "no partial file is left behind"

    restored = crm(clean_db, "db", "restore", str(dump), "--database-url", empty_database)
    assert restored.returncode == 0, output(restored)
    assert "at head" in output(restored)
    assert "contacts 3, conversations 3, messages 3, outbound_messages 1, raw_webhook_events 1" in output(restored)

    source_counts = row_counts(clean_db)
    assert source_counts["crm.contacts"] == 3 and len(source_counts) > 30
    assert row_counts(empty_database) == source_counts
    with psycopg.connect(empty_database, autocommit=True) as conn:
        assert conn.execute("SELECT display_name, attributes FROM crm.contacts WHERE phone_e164 = '+50760000001'"
                            ).fetchone() == ("Lucía Pérez", {"vip": True})
        assert bytes(conn.execute("SELECT body FROM crm.raw_webhook_events").fetchone()[0]) == BODY
        assert conn.execute("SELECT payload FROM crm.outbound_messages").fetchone()[0] == {"text": {"body": "¡Sí!"}}
        with psycopg.connect(clean_db) as source:
            revision = source.execute("SELECT version_num FROM crm.alembic_version").fetchone()[0]
        assert conn.execute("SELECT version_num FROM crm.alembic_version").fetchone()[0] == revision
        # Sequences, functions and triggers came back too: new rows get fresh ids, a job gets its event.
        new_id = conn.execute("INSERT INTO crm.contacts (display_name) VALUES ('new') RETURNING id").fetchone()[0]
        assert new_id > 3
        job = conn.execute("INSERT INTO crm.procrastinate_jobs (queue_name, task_name) VALUES ('inbound', 'p') "
                           "RETURNING id").fetchone()[0]
        assert conn.execute("SELECT type FROM crm.procrastinate_events WHERE job_id = %s", (job,)).fetchone() == (
            "deferred",)


def test_a_non_empty_target_is_refused_unless_forced(clean_db: str, empty_database: str, tmp_path: Path) -> None:
    seed(clean_db)
    dump = tmp_path / "crm.dump"
    assert crm(clean_db, "db", "backup", str(dump)).returncode == 0
    assert crm(clean_db, "db", "restore", str(dump), "--database-url", empty_database).returncode == 0
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("DELETE FROM crm.outbound_messages")
        conn.execute("CREATE TABLE crm.added_by_a_newer_migration (id int)")

    refused = crm(clean_db, "db", "restore", str(dump), "--database-url", empty_database)
    assert refused.returncode == 1
    assert "is not empty" in output(refused) and "--force" in output(refused)
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) FROM crm.outbound_messages").fetchone()[0] == 0, "nothing changed"

    forced = crm(clean_db, "db", "restore", str(dump), "--database-url", empty_database, "--force")
    assert forced.returncode == 0, output(forced)
    assert row_counts(empty_database) == row_counts(clean_db)
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT to_regclass('crm.added_by_a_newer_migration')").fetchone()[0] is None


def test_bad_files_are_refused_and_change_nothing(clean_db: str, empty_database: str, tmp_path: Path) -> None:
    missing = crm(clean_db, "db", "restore", str(tmp_path / "nope.dump"), "--database-url", empty_database)
    assert missing.returncode == 1 and "no such file" in output(missing)

    plain = tmp_path / "plain.sql"
    plain.write_text("-- PostgreSQL database dump\nCREATE TABLE t (id int);\n")
    refused = crm(clean_db, "db", "restore", str(plain), "--database-url", empty_database)
    assert refused.returncode == 1 and "not a pg_dump custom-format archive" in output(refused)

    no_folder = crm(clean_db, "db", "backup", str(tmp_path / "missing" / "crm.dump"))
    assert no_folder.returncode == 1 and "does not exist" in output(no_folder)

    seed(clean_db)
    dump = tmp_path / "crm.dump"
    assert crm(clean_db, "db", "backup", str(dump)).returncode == 0
    truncated = tmp_path / "truncated.dump"
    data = dump.read_bytes()
    truncated.write_bytes(data[: len(data) * 3 // 4])
    broken = crm(clean_db, "db", "restore", str(truncated), "--database-url", empty_database)
    assert broken.returncode == 1
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'crm'").fetchone()[0] == 0, \
            "a failed restore leaves the target as it was"
