"""Pure pieces of handoff and closure: which team, what the customer is told, CSAT answers, thanks."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from serving.services import closure
from serving.services.channels import throttle
from serving.services.channels.graph import messenger_message, whatsapp_message
from serving.services.escalation import EscalationSignals, decide_escalation, department_for
from serving.services.handoff import handoff_notice


def test_the_routing_matrix_team_wins_then_the_strongest_reason() -> None:
    assert department_for("retention_specialist", ["customer_asked_for_human"]) == "retention_specialist"
    assert department_for("chatbot", ["legal_or_compliance", "high_value_transaction"]) == "support_team"
    assert department_for("chatbot", ["high_value_transaction"]) == "sales_team"
    assert department_for("chatbot", ["customer_asked_for_human"], "purchase_inquiry") == "sales_team"
    assert department_for("chatbot", ["customer_asked_for_human"], "complaint") == "support_team"


def test_the_bots_own_offer_of_an_advisor_accepted_is_a_request_for_a_person() -> None:
    assert decide_escalation(EscalationSignals("Sí, con un asesor")).reasons == ["customer_asked_for_human"]
    assert decide_escalation(EscalationSignals("Yes, an advisor")).escalate
    assert not decide_escalation(EscalationSignals("el asesor de ventas me dijo que sí")).escalate


def test_the_notice_names_the_agent_and_the_time() -> None:
    assert handoff_notice("es", "sales_team", "Luis Gómez", "en unos minutos", True).startswith(
        "Te comunico con Luis, de nuestro equipo de ventas, que te responderá en unos minutos.")
    night = handoff_notice("en", "support_team", None, "tomorrow from 9:00", False)
    assert "someone from our support team" in night and "outside business hours" in night


def message(text: str | None = None, **payload: object) -> SimpleNamespace:
    return SimpleNamespace(text=text, payload=payload)


def test_csat_answers_from_buttons_lists_quick_replies_or_a_typed_digit() -> None:
    assert closure.csat_answer(message("4 - Buena", interactive={"type": "list_reply", "id": "csat_4"})) == 4
    assert closure.csat_answer(message("5", quick_reply={"payload": "csat_5"})) == 5
    assert closure.csat_answer(message("3")) == 3 and closure.csat_answer(message("2/5")) == 2
    assert closure.csat_answer(message("quiero 3 laptops")) is None
    assert closure.csat_answer(message("Dell", interactive={"id": "qr_0"})) is None


def test_thanks_is_short_and_asks_nothing() -> None:
    assert closure.is_thanks("perfecto, muchas gracias!") and closure.is_thanks("thanks, that's all")
    assert not closure.is_thanks("gracias, y cuánto cuesta el envío?")
    assert not closure.is_thanks("gracias pero todavía no me llega el pedido que hice hace dos semanas y nadie responde")


def test_many_options_become_a_whatsapp_list_and_ids_survive() -> None:
    buttons = whatsapp_message("¿Cuál?", ["A", "B", "C"])
    assert buttons["interactive"]["type"] == "button"
    options = [(f"csat_{n}", f"{n} estrellas") for n in range(5, 0, -1)]
    listed = whatsapp_message("Califica", options)
    assert listed["interactive"]["type"] == "list"
    assert [r["id"] for r in listed["interactive"]["action"]["sections"][0]["rows"]] == [o[0] for o in options]
    assert [q["payload"] for q in messenger_message("x", options)["quick_replies"]] == [o[0] for o in options]


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A clock that only moves when the throttle sleeps: the test checks the waits, not the wall time."""
    now = [1000.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(throttle.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(throttle.asyncio, "sleep", sleep)
    return sleeps


def test_the_number_rate_is_shared_between_processes_and_recipients_get_a_small_burst(fake_clock: list[float]) -> None:
    limiter = throttle.SendThrottle(per_number=80, per_recipient=1, recipient_burst=3, share=2)

    async def run() -> None:
        for n in range(40):  # 40 recipients: the per-number bucket (40/s for this process) allows a burst of 40
            await limiter.acquire("PHONE1", f"user{n}")
        assert fake_clock == []
        await limiter.acquire("PHONE1", "user99")
        assert fake_clock == [pytest.approx(1 / 40)]
        fake_clock.clear()
        for _ in range(3):
            await limiter.acquire("PHONE2", "same")
        await limiter.acquire("PHONE2", "same")
        assert fake_clock == [pytest.approx(1.0)], "the fourth message to one person waits a second"

    asyncio.run(run())
