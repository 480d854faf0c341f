"""The content calendar (issue 8, first part): drafts through the API, approval and rescheduling by API and CLI,
and the rules (Instagram needs media, a published post never changes, approving twice is refused)."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from tests.helpers import add_api_key, api_client, make_settings

pytestmark = pytest.mark.integration


async def test_draft_approve_and_reschedule(clean_db: str, db: psycopg.AsyncConnection) -> None:
    admin, read = await add_api_key(db, "admin"), await add_api_key(db, "read")
    post = {"body": "Llegó el iPhone 15 🎉", "channels": ["instagram", "facebook"],
            "media_url": "https://cdn.example/iphone.jpg", "scheduled_at": "2026-12-01T10:00:00-05:00"}
    async with api_client(make_settings(clean_db)) as api:
        assert (await api.post("/api/v1/content/posts", json=post, headers=read)).status_code == 403
        no_media = await api.post("/api/v1/content/posts", json={**post, "media_url": None}, headers=admin)
        bad_channel = await api.post("/api/v1/content/posts", json={**post, "channels": ["tiktok"]}, headers=admin)
        created = await api.post("/api/v1/content/posts", json=post, headers=admin)
        post_id = created.json()["id"]
        approved = await api.post(f"/api/v1/content/posts/{post_id}/approve", headers=admin)
        twice = await api.post(f"/api/v1/content/posts/{post_id}/approve", headers=admin)
        missing = await api.post("/api/v1/content/posts/999/approve", headers=admin)
        listed = await api.get("/api/v1/content/posts?status_filter=approved", headers=read)
    assert no_media.status_code == 422 and "media_url" in no_media.text
    assert bad_channel.status_code == 422
    assert created.status_code == 201 and created.json()["status"] == "draft"
    assert approved.json()["status"] == "approved" and approved.json()["approved_by"] == "key:admin-key"
    assert twice.status_code == 409 and missing.status_code == 404
    assert [p["id"] for p in listed.json()] == [post_id]

    env = {**os.environ, "DATABASE_URL": clean_db}
    moved = subprocess.run([sys.executable, "-m", "crm.cli.main", "content", "reschedule", str(post_id), "--at",
                            "2026-12-02T09:00:00-05:00"], env=env, capture_output=True, text=True, timeout=120)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    await db.execute("UPDATE crm.content_posts SET status = 'published' WHERE id = %s", (post_id,))
    refused = subprocess.run([sys.executable, "-m", "crm.cli.main", "content", "reschedule", str(post_id), "--at",
                              "2026-12-03T09:00:00-05:00"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "already published" in refused.stdout
    row = await (await db.execute("SELECT scheduled_at FROM crm.content_posts WHERE id = %s", (post_id,))).fetchone()
    assert row[0].isoformat() == "2026-12-02T14:00:00+00:00"
