"""The comment auto-responder's decision (flow 17): what a page owner would do with each kind of comment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serving.services import comment_rules as rules

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def comment(text: str | None = "hola", verb: str = "add", kind: str = "comment", own: bool = False,
            has_id: bool = True, age: timedelta = timedelta(minutes=5)) -> rules.CommentFacts:
    return rules.CommentFacts(channel="instagram", verb=verb, kind=kind, text=text, has_id=has_id,
                              from_own_account=own, created_time=NOW - age)


def signals(intent: str, sentiment: str = "neutral", urgency: str = "low", lead: int = 20) -> rules.CommentSignals:
    return rules.CommentSignals(intent=intent, sentiment=sentiment, urgency=urgency, lead_score=lead)


@pytest.mark.parametrize(("text", "intent", "sentiment", "urgency", "action"), [
    ("¿Cuánto cuesta? la quiero", "pricing_question", "neutral", "low", "private_reply"),
    ("how much is it? I want two", "purchase_inquiry", "neutral", "low", "private_reply"),
    ("¿hacen envíos a Colón?", "general_inquiry", "neutral", "low", "public_reply"),
    ("info por favor", "product_info", "neutral", "low", "public_reply"),
    ("Do you have it in blue", "product_info", "neutral", "low", "public_reply"),
    ("Me encanta cómo quedó 😍", "product_info", "positive", "low", "none"),
    ("Gana dinero desde casa www.promo.xyz", "spam", "positive", "low", "hide"),
    ("follow me for follow back!!", "general_inquiry", "positive", "low", "hide"),
    ("lindos productos, visiten mitienda.shop", "product_info", "positive", "low", "hide"),
    ("son unos estafadores idiotas", "product_info", "negative", "medium", "hide"),
    ("Mi pedido llegó roto y nadie me responde", "complaint", "negative", "medium", "escalate"),
    ("quiero mi reembolso ya, idiotas", "refund_request", "negative", "high", "escalate"),
    ("esto es URGENTE, no funciona nada", "support_request", "negative", "critical", "escalate"),
    ("Mi pedido llegó roto y nadie me responde", "delivery_tracking", "negative", "medium", "escalate"),
    ("¿cuándo llega mi pedido?", "delivery_tracking", "neutral", "low", "public_reply"),
    # Buyers whose words look like spam to a regex are still buyers.
    ("¿Aceptan bitcoin como pago?", "purchase_inquiry", "neutral", "low", "private_reply"),
    ("Quiero 3, escríbanme a ana@gmail.com", "purchase_inquiry", "neutral", "low", "private_reply"),
    ("Te sigo desde hace años, ¿tienen talla M?", "product_info", "positive", "low", "public_reply"),
    ("Precio? lo vi en tienda.shop", "pricing_question", "neutral", "low", "private_reply"),
])
def test_each_kind_of_comment_gets_what_a_page_owner_would_do(text: str, intent: str, sentiment: str,
                                                              urgency: str, action: str) -> None:
    decision = rules.decide(comment(text), signals(intent, sentiment, urgency), NOW)
    assert decision.action == action, decision.reason


def test_a_question_on_a_live_video_is_answered_privately() -> None:
    live = rules.CommentFacts(channel="instagram", verb="add", kind="comment", text="¿tienen talla M?", has_id=True,
                              from_own_account=False, created_time=NOW, live=True)
    assert rules.decide(live, signals("product_info"), NOW).action == "private_reply"


def test_a_buyer_past_the_private_reply_window_is_answered_in_public() -> None:
    old = comment("precio?", age=timedelta(days=8))
    assert rules.decide(old, signals("pricing_question"), NOW).action == "public_reply"
    assert rules.decide(comment("precio?", age=timedelta(days=6)), signals("pricing_question"), NOW
                        ).action == "private_reply"


@pytest.mark.parametrize(("facts", "reason"), [
    (comment(own=True), "our own comment"),
    (comment(verb="edited"), "comment edited"),
    (comment(verb="remove"), "comment remove"),
    (comment(kind="mention"), "mention add"),
    (comment(text="  "), "no text"),
    (comment(text=None), "no text"),
    (comment(has_id=False), "no comment id to answer"),
    (rules.CommentFacts(channel="facebook", verb="add", kind="comment", text="hola", has_id=True,
                        from_own_account=False, created_time=NOW, known_account=False),
     "not one of our active accounts"),
])
def test_comments_that_get_no_action_are_recognised_before_any_nlu(facts: rules.CommentFacts,
                                                                   reason: str) -> None:
    assert rules.skip_reason(facts, enabled=True) == reason
    assert rules.skip_reason(comment(), enabled=True) is None
    assert rules.skip_reason(comment(), enabled=False) == "auto-responder disabled"


def test_replies_use_the_catalog_price_and_the_customers_language() -> None:
    product = rules.ProductFacts(name="Mochila urbana", price="$49.90", in_stock=True)
    es = rules.private_reply_text("Carla Méndez", product, es=True)
    assert es.startswith("¡Hola Carla!") and "$49.90" in es and "Mochila urbana" in es
    en = rules.private_reply_text("@lucia.mx", None, es=False)
    assert en.startswith("Hi lucia.mx!") and "$" not in en
    sold_out = rules.ProductFacts(name="Termo", price="$15.00", in_stock=False)
    assert "agotado" in rules.private_reply_text(None, sold_out, es=True)
    public = rules.public_reply_text("Ana", "Hacemos envíos a todo el país.", None, es=True)
    assert "Hacemos envíos a todo el país." in public and "mensaje directo" in public
    assert "Someone from our team" in rules.apology_text("Bob", es=False)
