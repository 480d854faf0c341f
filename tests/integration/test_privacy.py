"""Privacy (issue 9) with the real API, worker, Graph sandbox and PostgreSQL: a customer who wrote on WhatsApp and
Instagram, got replies and statuses, has a photo stored and rows in the warehouse is exported, then forgotten;
afterwards a full dump of the database and the media folder hold none of their identifiers, while the anonymous
counts stay. Meta's data-deletion callback, consent for marketing, and retention are here too."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from crm.db.engine import create_engine, session_factory
from crm.db.local_pg import find_bindir
from serving.services.media.storage import LocalMediaStore, content_key
from serving.services.privacy.meta_deletion import sign_request
from serving.services.retention import delete_unused_files, purge_expired
from tests.helpers import APP_SECRET, T0, T0_MS, add_api_key, api_client, make_settings
from tests.integration.test_worker import deliver, drain, ig_text, wa_text

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]
PHONE = "50761112233"
EMAIL = "lucia.ferrer@example.com"
IGSID = "17841999000111"


def dump(url: str) -> str:
    """Every row of every table of the database, as pg_dump writes it."""
    out = subprocess.run([str(find_bindir() / "pg_dump"), "--data-only", "--dbname", url], capture_output=True,
                         text=True, check=True)
    return out.stdout


async def seed_person(url: str, media_root: Path) -> int:
    await deliver(url, wa_text("wamid.PRIV1", f"hola, soy Lucía, mi correo es {EMAIL}", wa_id=PHONE,
                               name="Lucía Ferrer", user_id="PA.PRIV"),
                  wa_text("wamid.PRIV2", "¿tienen la mochila negra?", wa_id=PHONE, name="Lucía Ferrer",
                          user_id="PA.PRIV", ts=T0 + 60),
                  ig_text("aWdf-priv-1", IGSID, "hi, same person here"))
    await drain(url)
    with psycopg.connect(url, autocommit=True) as conn:
        contact = conn.execute("SELECT contact_id FROM crm.contact_identities WHERE external_id = %s",
                               (PHONE,)).fetchone()[0]
        other = conn.execute("SELECT contact_id FROM crm.contact_identities WHERE external_id = %s",
                             (IGSID,)).fetchone()[0]
        conn.execute("UPDATE crm.contacts SET email = %s, city = 'David' WHERE id = %s", (EMAIL, contact))
        # Deduplication merged the Instagram contact into the WhatsApp one (same golden id).
        conn.execute("CREATE SCHEMA IF NOT EXISTS warehouse")
        conn.execute("CREATE TABLE IF NOT EXISTS warehouse.contact_clusters (contact_id bigint PRIMARY KEY, "
                     "golden_id bigint, match_probability double precision)")
        # (Other tests' dbt builds may have made the real table: its rows for these ids are replaced.)
        conn.execute("DELETE FROM warehouse.contact_clusters WHERE contact_id IN (%s, %s) OR golden_id IN (%s, %s)",
                     (contact, other, contact, other))
        conn.execute("INSERT INTO warehouse.contact_clusters (contact_id, golden_id, match_probability) "
                     "VALUES (%s, %s, 1), (%s, %s, 0.97)", (contact, contact, other, contact))
        conn.execute("CREATE TABLE IF NOT EXISTS warehouse.privacy_probe (contact_id bigint, phone text, email text)")
        conn.execute("INSERT INTO warehouse.privacy_probe VALUES (%s, %s, %s), (999999, '+50700000000', 'x@y.z')",
                     (contact, f"+{PHONE}", EMAIL))
        # A photo they sent, stored content-addressed.
        message = conn.execute("SELECT id FROM crm.messages WHERE dedup_key = 'wamid.PRIV2'").fetchone()[0]
        data = b"\x89PNG\r\n\x1a\n" + PHONE.encode()
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        store = LocalMediaStore(media_root)
        await store.put(content_key(sha), data, "image/png")
        conn.execute("INSERT INTO crm.media_attachments (message_id, channel, kind, source_media_id, sha256, "
                     "storage_key, status, stored_at) VALUES (%s, 'whatsapp', 'image', 'MEDIA1', %s, %s, 'stored', "
                     "now())", (message, sha, content_key(sha)))
    return contact


async def test_a_forgotten_person_is_nowhere_and_the_counts_stay(clean_db: str, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    media_root = tmp_path / "media"
    monkeypatch.setenv("MEDIA_STORAGE_URL", f"file://{media_root}")
    contact = await seed_person(clean_db, media_root)
    before = dump(clean_db)
    assert PHONE in before and EMAIL in before and IGSID in before, "the seed put them everywhere"
    async with await psycopg.AsyncConnection.connect(clean_db, autocommit=True) as conn:
        admin = await add_api_key(conn, "admin")
        reader = await add_api_key(conn, "read")
    settings = make_settings(clean_db, media_storage_url=f"file://{media_root}")
    async with api_client(settings) as client:
        assert (await client.get(f"/api/v1/contacts/{contact}/export", headers=reader)).status_code == 403
        exported = (await client.get(f"/api/v1/contacts/{contact}/export", headers=admin)).json()
        assert exported["contact_ids"] == [contact], "the merged Instagram contact only when asked"
        merged = (await client.get(f"/api/v1/contacts/{contact}/export?include_duplicates=true", headers=admin)).json()
        assert len(merged["contact_ids"]) == 2
        assert any(EMAIL in (m["text"] or "") for m in merged["messages"])
        assert {i["external_id"] for i in merged["identities"]} >= {PHONE, IGSID}
        assert exported["media"] and exported["messages_sent_to_them"]

        response = await client.delete(f"/api/v1/contacts/{contact}?include_duplicates=true", headers=admin)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["residue"] == [] and report["removed"]["messages"] >= 3
        assert (await client.delete(f"/api/v1/contacts/{contact}", headers=admin)).status_code == 200
        assert (await client.delete("/api/v1/contacts/987654", headers=admin)).status_code == 404

    after = dump(clean_db)
    for needle in (PHONE, EMAIL, IGSID, "Lucía Ferrer", "mochila negra"):
        assert needle not in after, f"{needle!r} is still in the database"
    assert not [p for p in media_root.rglob("*") if p.is_file()], "the photo file is gone"
    with psycopg.connect(clean_db) as conn:
        # Anonymous aggregates stay: the conversations and messages are still counted, the contacts are tombstones.
        assert conn.execute("SELECT count(*) FROM crm.messages WHERE contact_id = %s", (contact,)).fetchone()[0] >= 2
        assert conn.execute("SELECT count(*) FROM crm.conversations WHERE contact_id = %s", (contact,)
                            ).fetchone()[0] == 1
        erased = conn.execute("SELECT display_name, phone_e164, email, attributes ? 'erased_at' FROM crm.contacts "
                              "WHERE id = %s", (contact,)).fetchone()
        assert erased == (None, None, None, True)
        assert conn.execute("SELECT count(*) FROM warehouse.privacy_probe").fetchone()[0] == 1, "others stay"
        assert conn.execute("SELECT status FROM crm.erasure_requests WHERE confirmation_code = %s",
                            (report["confirmation_code"],)).fetchone() == ("completed",)


async def test_meta_data_deletion_callback(clean_db: str) -> None:
    await deliver(clean_db, ig_text("aWdf-meta-1", "17841000555", "hola"))
    await drain(clean_db)
    settings = make_settings(clean_db, public_base_url="https://crm.example.com")
    async with api_client(settings) as client:
        signed = sign_request({"algorithm": "HMAC-SHA256", "issued_at": 1700000000, "user_id": "17841000555"},
                              APP_SECRET)
        response = await client.post("/api/v1/meta/data-deletion", content=f"signed_request={signed}",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["url"] == f"https://crm.example.com/api/v1/meta/data-deletion/{answer['confirmation_code']}"
        status = (await client.get(f"/api/v1/meta/data-deletion/{answer['confirmation_code']}")).json()
        assert status["status"] == "completed"
        forged = sign_request({"algorithm": "HMAC-SHA256", "user_id": "17841000555"}, "not-the-app-secret")
        refused = await client.post("/api/v1/meta/data-deletion", content=f"signed_request={forged}",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert refused.status_code == 400
        stranger = sign_request({"algorithm": "HMAC-SHA256", "user_id": "123456789"}, APP_SECRET)
        unknown = (await client.post("/api/v1/meta/data-deletion", content=f"signed_request={stranger}",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})).json()
        assert (await client.get(f"/api/v1/meta/data-deletion/{unknown['confirmation_code']}")
                ).json()["status"] == "not_found"
    assert "17841000555" not in dump(clean_db)


async def test_consent_decides_marketing_and_is_logged(clean_db: str) -> None:
    from serving.services.automation.actions import send_automation_message

    await deliver(clean_db, wa_text("wamid.C1", "hola, precio del termo?", wa_id="50760001111"),
                  wa_text("wamid.C2", "BAJA", wa_id="50760001111", ts=T0 + 30))
    await drain(clean_db)
    with psycopg.connect(clean_db) as conn:
        contact, = conn.execute("SELECT contact_id FROM crm.contact_identities WHERE external_id = '50760001111'"
                                ).fetchone()
        logged = conn.execute("SELECT kind, scope, source, channel, evidence FROM crm.consent_events "
                              "WHERE contact_id = %s", (contact,)).fetchall()
    assert len(logged) == 1 and logged[0][:4] == ("opt_out", "all", "message", "whatsapp")
    assert logged[0][4].startswith("message:"), "a reference to the message, not its text"
    engine = create_engine(clean_db)
    now = datetime.now(UTC).replace(hour=15)
    try:
        async def offer(**overrides: object) -> str:
            async with session_factory(engine)() as session:
                result = await send_automation_message(
                    session, make_settings(clean_db, **overrides), contact_id=contact, kind="nurturing", step="1",
                    subject="s", raised_at=now - timedelta(days=30), context={}, now=now)
                await session.rollback()
                return result.reason or result.status

        assert await offer() == "opted_out"
        async with await psycopg.AsyncConnection.connect(clean_db, autocommit=True) as conn:
            admin = await add_api_key(conn, "admin")
        async with api_client(make_settings(clean_db)) as client:
            given = await client.post(f"/api/v1/contacts/{contact}/consent", headers=admin,
                                      json={"kind": "opt_in", "scope": "marketing", "source": "web form"})
            assert given.status_code == 201 and given.json()["may_receive_marketing"] is True
        assert await offer() not in ("opted_out", "consent_opt_out", "no_marketing_opt_in")
        with psycopg.connect(clean_db, autocommit=True) as conn:
            conn.execute("DELETE FROM crm.consent_events WHERE contact_id = %s AND kind = 'opt_in'", (contact,))
            conn.execute("UPDATE crm.contacts SET opted_out = false WHERE id = %s", (contact,))
        assert await offer() == "consent_opt_out", "the log, not only the flag, decides"
        with psycopg.connect(clean_db, autocommit=True) as conn:
            conn.execute("DELETE FROM crm.consent_events WHERE contact_id = %s", (contact,))
        assert await offer(marketing_requires_opt_in=True) == "no_marketing_opt_in"
    finally:
        await engine.dispose()


async def test_retention_purges_old_bodies_and_media_but_not_unsettled_events(clean_db: str, tmp_path: Path) -> None:
    await deliver(clean_db, ig_text("aWdf-old-1", "778899", "viejo", ts=T0_MS), ig_text("aWdf-new-1", "778899", "nuevo"))
    await drain(clean_db)
    store = LocalMediaStore(tmp_path)
    await store.put("sha256/aa/bb/old", b"old", "image/png")
    with psycopg.connect(clean_db, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM crm.raw_webhook_events ORDER BY id")]
        conn.execute("UPDATE crm.raw_webhook_events SET received_at = now() - interval '40 days' WHERE id = %s",
                     (ids[0],))
        dead = conn.execute("INSERT INTO crm.raw_webhook_events (body, body_sha256, signature_state, "
                            "processing_status, received_at) VALUES ('x', 'dead-sha', 'valid', 'dead_letter', "
                            "now() - interval '40 days') RETURNING id").fetchone()[0]
        message = conn.execute("SELECT id FROM crm.messages LIMIT 1").fetchone()[0]
        conn.execute("INSERT INTO crm.media_attachments (message_id, channel, kind, storage_key, status, stored_at) "
                     "VALUES (%s, 'instagram', 'image', 'sha256/aa/bb/old', 'stored', now() - interval '200 days')",
                     (message,))
    engine = create_engine(clean_db)
    try:
        async with session_factory(engine)() as session:
            report = await purge_expired(session, make_settings(clean_db), store, datetime.now(UTC))
            assert await store.exists("sha256/aa/bb/old"), "nothing deleted before the commit"
            await session.commit()
            await delete_unused_files(session, store, report.files)
    finally:
        await engine.dispose()
    assert (report.raw_bodies, report.media_files) == (1, 1)
    with psycopg.connect(clean_db) as conn:
        rows = dict(conn.execute("SELECT id, body IS NULL FROM crm.raw_webhook_events").fetchall())
        assert rows[ids[0]] is True and rows[ids[1]] is False and rows[dead] is False
        assert conn.execute("SELECT status FROM crm.media_attachments").fetchone() == ("purged",)
    assert not await store.exists("sha256/aa/bb/old")


async def test_late_webhooks_and_queued_work_do_not_bring_a_forgotten_person_back(clean_db: str) -> None:
    """Meta sends read receipts after the fact and retries deliveries in new envelopes; an event may also still be
    queued when the erasure runs. None of it recreates the person, stores their words again or answers them."""
    old = wa_text("wamid.LATE1", "hola, soy Marta", wa_id="50762223344", name="Marta Ríos")
    await deliver(clean_db, old)
    await drain(clean_db)
    queued = wa_text("wamid.LATE2", "¿siguen ahí?", wa_id="50762223344", name="Marta Ríos", ts=T0 + 120)
    await deliver(clean_db, queued)  # stored, its job not run yet
    with psycopg.connect(clean_db) as conn:
        contact = conn.execute("SELECT contact_id FROM crm.contact_identities WHERE external_id = '50762223344'"
                               ).fetchone()[0]
    async with await psycopg.AsyncConnection.connect(clean_db, autocommit=True) as conn:
        admin = await add_api_key(conn, "admin")
    async with api_client(make_settings(clean_db)) as client:
        assert (await client.delete(f"/api/v1/contacts/{contact}", headers=admin)).status_code == 200
        # Meta retries the first message in a new envelope, and reads arrive for it.
        retried = {**old, "entry": [{**old["entry"][0], "id": "1-retry"}]}
        read = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
                "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "99"},
                          "statuses": [{"id": "wamid.LATE1", "status": "read", "timestamp": str(T0 + 300),
                                        "recipient_id": "50762223344"}]}}]}]}
        from tests.helpers import post_signed

        for body in (retried, read):
            assert (await post_signed(client, body)).status_code == 200
    await drain(clean_db)
    from serving.services.privacy.suppression import scrub_late_statuses

    engine = create_engine(clean_db)
    try:
        async with session_factory(engine)() as session:  # the worker's every-minute sweep
            assert await scrub_late_statuses(session) >= 1
            await session.commit()
    finally:
        await engine.dispose()
    after = dump(clean_db)
    assert "50762223344" not in after and "Marta" not in after and "siguen" not in after
    with psycopg.connect(clean_db) as conn:
        assert conn.execute("SELECT count(*) FROM crm.contacts WHERE display_name IS NOT NULL").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM crm.outbound_messages WHERE status IN ('queued', 'sending', "
                            "'sent') AND created_at > now() - interval '1 minute' AND text IS NOT NULL"
                            ).fetchone()[0] == 0, "nobody answered them"
        assert conn.execute("SELECT count(*) FROM crm.contact_identities WHERE external_id = 'erased'"
                            ).fetchone()[0] == 0
