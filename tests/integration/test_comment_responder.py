"""The comment auto-responder end to end (flow 17): signed comment webhooks in shapes no test above uses (a Facebook
photo comment with its `post` block, an Instagram comment with `self_ig_scoped_id`, an edit, our own reply),
each delivered twice and once more re-batched, through the API, the real worker and the Graph sandbox. Each
comment gets at most one action; a buyer gets one private reply with the catalog price and becomes a scored lead
whose answer in the inbox continues the same conversation; spam is hidden; a complaint reaches a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import respx

from crm.db.engine import create_engine, session_factory
from serving.services import comment_responder, pipeline
from serving.services.channels.graph import GraphClient
from serving.services.channels.graph_social import SocialGraph
from serving.services.understanding import Understanding
from tests.helpers import T0, T0_MS, make_settings
from tests.integration.test_worker import deliver, drain

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]
PAGE, IG = "1029384756", "17841400123456789"
FB_POST, IG_MEDIA = f"{PAGE}_8811", "17900000000008811"


def fb_comment(comment_id: str, author: tuple[str, str], text: str, verb: str = "add", ts: int = T0) -> dict:
    return {"field": "feed", "value": {
        "from": {"id": author[0], "name": author[1]},
        "post": {"status_type": "added_photos", "is_published": True, "updated_time": "2026-11-26T05:00:00+0000",
                 "permalink_url": f"https://www.facebook.com/{PAGE}/posts/8811", "promotion_status": "inactive",
                 "id": FB_POST},
        "message": text, "post_id": FB_POST, "comment_id": comment_id, "created_time": ts, "item": "comment",
        "parent_id": FB_POST, "verb": verb}}


def ig_comment(comment_id: str, user: tuple[str, str], text: str) -> dict:
    return {"field": "comments", "value": {
        "from": {"id": user[0], "username": user[1], "self_ig_scoped_id": f"ig-scoped-{user[0]}"},
        "media": {"id": IG_MEDIA, "media_product_type": "FEED"}, "id": comment_id, "text": text}}


def page_body(*changes: dict, time_ms: int = T0_MS) -> dict:
    return {"object": "page", "entry": [{"id": PAGE, "time": time_ms, "changes": list(changes)}]}


def ig_body(*changes: dict, time_ms: int = T0_MS) -> dict:
    return {"object": "instagram", "entry": [{"id": IG, "time": time_ms, "changes": list(changes)}]}


def seed(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.channel_accounts (channel, external_id) VALUES ('messenger', %s), "
                     "('instagram', %s)", (PAGE, IG))
        product = conn.execute("INSERT INTO crm.products (sku, name, price, currency, stock) VALUES "
                               "('MOC-01', 'Mochila urbana', 49.90, 'USD', 12) RETURNING id").fetchone()[0]
        post = conn.execute(
            "INSERT INTO crm.content_posts (body, media_url, channels, status, published_at, product_ids) VALUES "
            "('Nueva mochila urbana', 'https://cdn.example.com/m.jpg', '[\"facebook\", \"instagram\"]', "
            "'published', now(), %s) RETURNING id", (f"[{product}]",)).fetchone()[0]
        conn.execute("INSERT INTO crm.content_publications (post_id, channel, account_external_id, status, "
                     "external_id, published_at) VALUES (%s, 'facebook', %s, 'published', %s, now()), "
                     "(%s, 'instagram', %s, 'published', %s, now())", (post, PAGE, FB_POST, post, IG, IG_MEDIA))


def sandbox_calls(sandbox: str, comment_ids: set[str]) -> list[tuple[str, str]]:
    """(what, comment id) for every request the sandbox got about these comments."""
    found = []
    for call in httpx.get(f"{sandbox}/_sandbox/messages").json():
        if call["method"] != "POST":
            continue
        body = call["body"] or {}
        target = (body.get("recipient") or {}).get("comment_id")
        if target in comment_ids:
            found.append(("private_reply", target))
            continue
        parts = call["path"].strip("/").split("/")
        if len(parts) == 3 and parts[1] in comment_ids and parts[2] in ("comments", "replies"):
            found.append((f"public_reply:{parts[2]}", parts[1]))
        elif len(parts) == 2 and parts[1] in comment_ids:
            found.append(("hide", parts[1]))
    return sorted(found)


async def test_comments_delivered_twice_get_one_action_each(clean_db: str, graph_sandbox: str) -> None:
    seed(clean_db)
    buyer = fb_comment("8811_9001", ("6100001", "Carla Méndez"), "¿Cuánto cuesta? la quiero")
    complaint = fb_comment("8811_9002", ("6100002", "Pedro Gil"),
                           "Mi pedido llegó roto y nadie me responde, qué mala atención")
    own_reply = fb_comment("8811_9003", (PAGE, "Tienda"), "¡Gracias Carla! Te escribimos por privado")
    edited = fb_comment("8811_9001", ("6100001", "Carla Méndez"), "¿Cuánto cuesta? la quiero en negro",
                        verb="edited", ts=T0 + 30)
    question = ig_comment("18000000000009004", ("7700001", "lucia.mx"), "¿tienen talla M?")
    spam = ig_comment("18000000000009005", ("7700002", "promo.bot"), "Gana dinero desde casa www.promo.xyz")
    praise = ig_comment("18000000000009006", ("7700003", "ana.r"), "Me encanta 😍")
    bodies = [page_body(buyer), page_body(complaint, own_reply), ig_body(question, spam, praise)]
    await deliver(clean_db, *bodies, *bodies)  # Meta retries: the same bodies again
    await deliver(clean_db, page_body(buyer, edited, time_ms=T0_MS + 5000),  # re-batched with an edit
                  ig_body(spam, time_ms=T0_MS + 5000))
    await drain(clean_db)
    await drain(clean_db)  # and the worker running again finds nothing left to do

    ids = {"8811_9001", "8811_9002", "8811_9003", "18000000000009004", "18000000000009005",
           "18000000000009006"}
    assert sandbox_calls(graph_sandbox, ids) == sorted([
        ("private_reply", "8811_9001"), ("private_reply", "8811_9002"),
        ("public_reply:replies", "18000000000009004"), ("hide", "18000000000009005")])
    with psycopg.connect(clean_db) as conn:
        actions = dict(conn.execute("SELECT comment_external_id, action || ':' || status FROM crm.comment_actions"
                                    ).fetchall())
        assert actions == {"8811_9001": "private_reply:done", "8811_9002": "escalate:done",
                           "18000000000009004": "public_reply:done", "18000000000009005": "hide:done",
                           "18000000000009006": "none:skipped"}
        text, recipient, contact, conversation, lead = conn.execute(
            "SELECT a.reply_text, a.recipient_external_id, a.contact_id, a.conversation_id, c.lead_score "
            "FROM crm.comment_actions a JOIN crm.contacts c ON c.id = a.contact_id "
            "WHERE a.comment_external_id = '8811_9001'").fetchone()
        assert text.startswith("¡Hola Carla!") and "$49.90" in text, "the catalog's price, in Spanish"
        assert lead is not None and recipient
        assert conn.execute("SELECT channel, status FROM crm.conversations WHERE id = %s", (conversation,)
                            ).fetchone() == ("messenger", "open")
        ticket = conn.execute("SELECT t.department, t.reasons FROM crm.tickets t JOIN crm.comment_actions a "
                              "ON a.conversation_id = t.conversation_id WHERE a.comment_external_id = '8811_9002'"
                              ).fetchone()
        assert ticket is not None and "complaint" in ticket[1][0]
        answered = conn.execute("SELECT count(*) FROM crm.automation_events WHERE event_type = 'comment.answered'"
                                ).fetchone()[0]
        assert answered == 3

    # The buyer answers the private reply in Messenger: same contact, same conversation, a bot turn follows.
    dm = {"object": "page", "entry": [{"id": PAGE, "time": T0_MS + 60_000, "messaging": [{
        "sender": {"id": recipient}, "recipient": {"id": PAGE}, "timestamp": T0_MS + 60_000,
        "message": {"mid": "m_reply_after_comment", "text": "sí, la quiero en negro, ¿hacen envío?"}}]}]}
    await deliver(clean_db, dm)
    await drain(clean_db)
    with psycopg.connect(clean_db) as conn:
        assert conn.execute("SELECT contact_id, conversation_id FROM crm.messages WHERE dedup_key = "
                            "'m_reply_after_comment'").fetchone() == (contact, conversation)


async def test_actions_wait_for_the_hourly_limit_and_a_lost_reply_is_not_sent_twice(
        clean_db: str, graph_sandbox: str) -> None:
    seed(clean_db)
    first = ig_comment("18000000000009101", ("7700101", "maria.p"), "¿tienen talla S?")
    second = ig_comment("18000000000009102", ("7700102", "jose.k"), "¿hacen envíos a David?")
    await deliver(clean_db, ig_body(first, second))
    engine = create_engine(clean_db)
    sessions = session_factory(engine)
    try:  # the pipeline plans; the actions are then performed by hand, with a clock
        understanding = Understanding.from_settings(make_settings(clean_db))
        with psycopg.connect(clean_db) as conn:
            raw_ids = [r[0] for r in conn.execute("SELECT id FROM crm.raw_webhook_events ORDER BY id")]
        for raw_id in raw_ids:
            async with sessions() as session:
                await pipeline.process_raw_event(session, raw_id, understanding=understanding)
        with psycopg.connect(clean_db) as conn:
            action_ids = [r[0] for r in conn.execute("SELECT id FROM crm.comment_actions ORDER BY id")]
        assert len(action_ids) == 2
        settings = make_settings(clean_db, comment_actions_per_hour=1)

        class Losing(httpx.AsyncHTTPTransport):
            lost = False

            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                response = await super().handle_async_request(request)
                if request.method == "POST" and request.url.path.endswith("/replies") and not self.lost:
                    self.lost = True
                    await response.aclose()
                    raise httpx.ReadTimeout("answer lost", request=request)
                return response

        social = SocialGraph(GraphClient(graph_sandbox, "v21.0", client=httpx.AsyncClient(transport=Losing())))
        now = datetime.now(UTC)
        assert await comment_responder.perform(sessions, social, settings, action_ids[0], now=now) == "sending"
        later = now + timedelta(minutes=5)
        assert await comment_responder.perform(sessions, social, settings, action_ids[0], now=later) == "done"
        assert await comment_responder.perform(sessions, social, settings, action_ids[1], now=later) == "pending"
        with psycopg.connect(clean_db) as conn:
            waiting = conn.execute("SELECT next_attempt_at FROM crm.comment_actions WHERE id = %s",
                                   (action_ids[1],)).fetchone()[0]
        assert waiting > later + timedelta(minutes=59), "the hour's one action is spent: the next waits"
        assert await comment_responder.perform(sessions, social, settings, action_ids[1],
                                               now=waiting) == "done"
    finally:
        await engine.dispose()
    assert sandbox_calls(graph_sandbox, {"18000000000009101", "18000000000009102"}) == [("public_reply:replies", "18000000000009101"), ("public_reply:replies", "18000000000009102")]


async def test_threads_own_replies_failures_and_stalled_jobs(clean_db: str, graph_sandbox: str) -> None:
    """A reply to a reply is answered under the top-level comment; our own reply coming back with a scoped author
    id is recognised by its id; a complaint whose apology Meta refuses becomes an alert; an apology already sent
    (10900) counts as sent; an action whose job died is picked up again, then given up."""
    seed(clean_db)
    question = ig_comment("18000000000009201", ("7700201", "rosa.v"), "¿tienen talla L?")
    question["value"]["parent_id"] = "18000000000009200"  # a reply in someone's thread
    complaint = fb_comment("8811_9202", ("6100202", "Raúl Soto"), "Mi pedido llegó roto y nadie me responde")
    refused = fb_comment("8811_9203", ("6100203", "Eva Ruiz"), "Pésimo servicio, el producto llegó dañado")
    await deliver(clean_db, ig_body(question), page_body(complaint, refused))
    engine = create_engine(clean_db)
    sessions = session_factory(engine)
    understanding = Understanding.from_settings(make_settings(clean_db))
    settings = make_settings(clean_db)
    try:
        with psycopg.connect(clean_db) as conn:
            raw_ids = [r[0] for r in conn.execute("SELECT id FROM crm.raw_webhook_events ORDER BY id")]
        for raw_id in raw_ids:
            async with sessions() as session:
                await pipeline.process_raw_event(session, raw_id, understanding=understanding)
        with psycopg.connect(clean_db) as conn:
            ids = dict(conn.execute("SELECT comment_external_id, id FROM crm.comment_actions").fetchall())
        social = SocialGraph(GraphClient(graph_sandbox, "v21.0"))
        assert await comment_responder.perform(sessions, social, settings, ids["18000000000009201"]) == "done"
        assert ("public_reply:replies", "18000000000009200") in sandbox_calls(graph_sandbox, {"18000000000009200"})

        # The apology went out but its answer was lost; the retry hears "already replied": sent, not failed.
        httpx.post(f"{graph_sandbox}/v21.0/{PAGE}/messages",
                   json={"recipient": {"comment_id": "8811_9202"}, "message": {"text": "x"}})
        assert await comment_responder.perform(sessions, social, settings, ids["8811_9202"]) == "done"
        with respx.mock(base_url=graph_sandbox, assert_all_called=False) as meta:
            refusal = meta.post(path__regex=rf".*/{PAGE}/messages$").respond(400, json={"error": {
                "message": "This person isn't available right now.", "code": 551}})
            meta.route().pass_through()
            assert await comment_responder.perform(sessions, SocialGraph(GraphClient(graph_sandbox, "v21.0")),
                                                   settings, ids["8811_9203"]) == "failed"
            assert refusal.called
        with psycopg.connect(clean_db) as conn:
            alerts = conn.execute("SELECT payload->>'alert', payload->>'detail' FROM crm.automation_events WHERE "
                                  "event_type = 'alert.raised'").fetchall()
            details = sorted(detail for _, detail in alerts)
            assert [a for a, _ in alerts] == ["complaint_in_comments"] * 2, "a person is told of both complaints"
            assert "8811_9202" in details[0] and "find the customer's reply" in details[0]
            assert "8811_9203" in details[1] and "apology failed" in details[1]
            reply_id = conn.execute("SELECT external_id FROM crm.comment_actions WHERE comment_external_id = "
                                    "'18000000000009201'").fetchone()[0]

        # Our reply comes back as a comment webhook, its author an Instagram-scoped id: no answer to ourselves.
        echo = ig_comment(reply_id, ("IGSID-OF-OUR-ACCOUNT", "demo.shop"), "¡Hola rosa.v! Gracias por tu pregunta")
        await deliver(clean_db, ig_body(echo, time_ms=T0_MS + 9000))
        with psycopg.connect(clean_db) as conn:
            raw_id = conn.execute("SELECT max(id) FROM crm.raw_webhook_events").fetchone()[0]
        async with sessions() as session:
            await pipeline.process_raw_event(session, raw_id, understanding=understanding)
        with psycopg.connect(clean_db, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM crm.comment_actions WHERE comment_external_id = %s",
                                (reply_id,)).fetchone()[0] == 0
            # A pending action whose job vanished: requeued by the sweep, then given up after too many attempts.
            conn.execute("DELETE FROM crm.procrastinate_jobs WHERE task_name = 'act_on_comment'")
            stuck = conn.execute("INSERT INTO crm.comment_actions (channel, account_external_id, comment_external_id,"
                                 " action, reason, status, reply_text, created_at) VALUES ('instagram', %s, "
                                 "'18000000000009299', 'public_reply', 'question', 'pending', 'hola', "
                                 "now() - interval '5 minutes') RETURNING id", (IG,)).fetchone()[0]
        async with sessions() as session:
            assert await comment_responder.requeue_stalled(session, settings, datetime.now(UTC)) == 1
            await session.commit()
        with psycopg.connect(clean_db, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM crm.procrastinate_jobs WHERE task_name = 'act_on_comment' "
                                "AND (args->>'action_id')::bigint = %s", (stuck,)).fetchone()[0] == 1
            conn.execute("DELETE FROM crm.procrastinate_jobs WHERE task_name = 'act_on_comment'")
            conn.execute("UPDATE crm.comment_actions SET attempts = 5 WHERE id = %s", (stuck,))
        async with sessions() as session:
            await comment_responder.requeue_stalled(session, settings, datetime.now(UTC))
            await session.commit()
        with psycopg.connect(clean_db) as conn:
            assert conn.execute("SELECT status FROM crm.comment_actions WHERE id = %s", (stuck,)).fetchone() == (
                "failed",)
    finally:
        await engine.dispose()

