"""The agent's reply with an LLM configured, replayed through the SDK's own client: a grounded draft is sent, a
wrong one is regenerated once, and the local responder answers when the draft stays wrong or the provider fails."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import httpx2
import pytest

from crm.db.models import Contact, Conversation
from ml.llm.reply_writer import ReplyWriter
from ml.nlu.entities import extract_entities
from ml.nlu.types import IntentResult
from serving.services.chat import llm_reply
from serving.services.chat.facts_check import check_draft, unsupported_figures
from serving.services.chat.llm_reply import (
    LOCAL_AUTHOR,
    ComposedReply,
    compose_reply,
    customer_summary,
    private_words,
    save_llm_calls,
)
from serving.services.chat.responder import Reply, search_text, update_state
from serving.services.chat.state import DialogueState
from tests.unit.chat.test_facts_check import CATALOG, POLICIES, search
from tests.unit.llm.replay import CASES, ProviderCase, Replay

OPENAI, ANTHROPIC, GEMINI = CASES
FIRST = "Hola, busco una laptop para programación"
SECOND = "Desarrollo web, presupuesto hasta $1200"
GOOD = {
    "reply": "¡Perfecto! Para desarrollo web hasta $1,200 te recomiendo:\n\n"
             "1️⃣ **Dell XPS 13** - $1,099: Intel i7, 16GB RAM, SSD 512GB. Tenemos 3 en stock.\n"
             "2️⃣ **Lenovo ThinkPad X1** - $1,189: SSD 1TB y un teclado legendario para programar. Tenemos 5 en "
             "stock.\n\n¿Te gustaría más detalles de alguna?",
    "quick_replies": ["Dell XPS 13", "Lenovo ThinkPad X1", "Dell XPS 15"],
    "products": ["DELL-XPS13", "LEN-X1"],
}
WRONG_PRICE = GOOD | {"reply": GOOD["reply"].replace("$1,099", "$999")}
INVENTED = {"reply": "Te recomiendo la **Dell XPS 15** - $1,099, con 3 en stock. ¿Te la reservo?",
            "quick_replies": ["Sí"], "products": ["DELL-XPS15"]}


def answer(draft: dict) -> httpx2.Response:
    return OPENAI.ok(json.dumps(draft, ensure_ascii=False))


def writer_for(replay: Replay, case: ProviderCase = OPENAI) -> ReplyWriter:
    return ReplyWriter([case.build(replay, max_retries=0)])


def intent_of(text: str) -> IntentResult:
    return IntentResult(primary_intent="product_info", confidence=0.9, entities=extract_entities(text))


def after_first_turn() -> DialogueState:
    state = DialogueState()
    update_state(state, FIRST, intent_of(FIRST), "es")
    return state


async def second_turn(state: DialogueState, writer: ReplyWriter | None, **kwargs: object) -> ComposedReply:
    intent = intent_of(SECOND)
    update_state(state, SECOND, intent, "es")
    history = [("customer", FIRST), ("assistant", "¡Hola! 👋 ¿Para qué la vas a usar y con qué presupuesto?")]
    return await compose_reply(state, SECOND, intent, search(CATALOG, search_text(state)), POLICIES,
                               history, writer, **kwargs)


async def local_answer() -> Reply:
    return (await second_turn(after_first_turn(), None)).reply


def assert_grounded(reply: Reply) -> None:
    assert unsupported_figures(reply.text, CATALOG, POLICIES, [Decimal(1200)]) == []
    assert check_draft(reply.text, reply.products, CATALOG, POLICIES, [Decimal(1200)]) == []


async def test_a_grounded_draft_is_sent_and_the_state_follows_it() -> None:
    replay = Replay([answer(GOOD)])
    state = after_first_turn()

    composed = await second_turn(state, writer_for(replay))

    assert composed.author == "openai:gpt-5-mini"
    assert isinstance(composed.reply, Reply) and composed.reply.text == GOOD["reply"]
    assert composed.reply.products == ["DELL-XPS13", "LEN-X1"] == state.recommended
    assert composed.reply.state is state
    assert composed.reply.quick_replies == ["Dell XPS 13", "Lenovo ThinkPad X1"]  # the invented one is dropped
    assert [(r.task, r.provider, r.outcome) for r in composed.records] == [("reply", "openai", "ok")]
    assert composed.records[0].input_tokens == 1200 and composed.rejected == []
    assert len(replay.requests) == 1


async def test_a_wrong_price_is_regenerated_and_the_new_draft_sent() -> None:
    replay = Replay([answer(WRONG_PRICE), answer(GOOD)])

    composed = await second_turn(after_first_turn(), writer_for(replay))

    assert composed.author == "openai:gpt-5-mini" and composed.reply.text == GOOD["reply"]
    assert [r.outcome for r in composed.records] == ["invalid_output", "ok"]
    assert "fact check: price 999 not in the catalog" in (composed.records[0].error or "")
    repair_prompt = OPENAI.prompt_of(replay.bodies()[1])
    assert "- price 999 not in the catalog" in repair_prompt and "**Dell XPS 13** - $999" in repair_prompt


async def test_an_invented_sku_and_product_are_caught_before_sending() -> None:
    replay = Replay([answer(INVENTED), answer(GOOD)])

    composed = await second_turn(after_first_turn(), writer_for(replay))

    assert composed.reply.text == GOOD["reply"]
    assert "sku DELL-XPS15 is not in the catalog" in composed.rejected
    assert 'product or model "Dell XPS 15" is not in the catalog' in composed.rejected
    assert "sku DELL-XPS15 is not in the catalog" in OPENAI.prompt_of(replay.bodies()[1])


async def test_a_draft_still_wrong_after_regeneration_falls_back_to_the_local_responder() -> None:
    replay = Replay([answer(WRONG_PRICE), answer(INVENTED), answer(GOOD)])
    state = after_first_turn()

    composed = await second_turn(state, writer_for(replay))

    assert composed.author == LOCAL_AUTHOR
    assert composed.reply.text == (await local_answer()).text
    assert "$999" not in composed.reply.text and "XPS 15" not in composed.reply.text
    assert_grounded(composed.reply)
    assert len(replay.requests) == 2  # one regeneration, no more
    assert [r.outcome for r in composed.records] == ["invalid_output", "invalid_output"]
    assert state.recommended == composed.reply.products


@pytest.mark.parametrize("failure", [OPENAI.error(500), httpx2.ReadTimeout("timed out")], ids=["500", "timeout"])
async def test_a_failing_provider_falls_back_to_the_local_responder(failure: object) -> None:
    replay = Replay([failure])

    composed = await second_turn(after_first_turn(), writer_for(replay))

    assert composed.author == LOCAL_AUTHOR and composed.reply.text == (await local_answer()).text
    assert_grounded(composed.reply)
    assert [r.outcome for r in composed.records] in (["server_error"], ["timeout"])
    assert len(replay.requests) == 1  # no regeneration without a draft


async def test_the_prompt_holds_the_catalog_and_none_of_the_customers_contact_details() -> None:
    contact = Contact(display_name="María Gómez", first_name="María", last_name="Gómez", phone_e164="+50761234567",
                      email="maria.gomez@example.com", language="es", city="David", lead_category="warm")
    conversation = Conversation(channel="whatsapp", message_count=3)
    replay = Replay([answer(GOOD)])
    state = after_first_turn()
    intent = intent_of(SECOND)
    update_state(state, SECOND, intent, "es")
    history = [("customer", "Soy María Gómez, mi correo es maria.gomez@example.com y mi cel +507 6123-4567"),
               ("assistant", "¡Gracias María! ¿Qué presupuesto tienes?")]

    await compose_reply(state, SECOND, intent, search(CATALOG, search_text(state)), POLICIES, history,
                        writer_for(replay, GEMINI), customer=customer_summary(contact, conversation),
                        redact=private_words(contact))

    prompt = GEMINI.prompt_of(replay.bodies()[0])
    for fact in ('"sku": "DELL-XPS13"', '"price_text": "$1,099"', '"stock": 3', '"name": "Lenovo ThinkPad X1"',
                 '"price_text": "$1,189"', '"delay": "24-48 h"', "ciudad: David", "canal: whatsapp",
                 '"presupuesto": "1200"', SECOND):
        assert fact in prompt, fact
    for private in ("maria.gomez@example.com", "+50761234567", "6123-4567", "María", "Gómez"):
        assert private not in prompt, private


async def test_without_a_writer_the_local_responder_answers_alone() -> None:
    composed = await second_turn(after_first_turn(), None)

    assert composed.author == LOCAL_AUTHOR and composed.records == []
    assert composed.reply.products and "Dell XPS 13" in composed.reply.text
    assert_grounded(composed.reply)


@pytest.mark.parametrize(("action", "awaiting"), [("create_draft_order", None), (None, "order_offer"),
                                                  (None, "quantity")])
async def test_order_taking_turns_keep_the_local_wording(monkeypatch: pytest.MonkeyPatch, action: str | None,
                                                         awaiting: str | None) -> None:
    """The order flow waits for the answer to its own question: an LLM rewording it could ask another one."""
    def local_order_step(state: DialogueState, *args: object) -> Reply:
        state.awaiting = awaiting
        return Reply("¿Cuántas unidades necesitas?", state, action=action)

    monkeypatch.setattr(llm_reply, "respond", local_order_step)
    replay = Replay([answer(GOOD)])

    composed = await second_turn(after_first_turn(), writer_for(replay))

    assert composed.author == LOCAL_AUTHOR and composed.reply.text == "¿Cuántas unidades necesitas?"
    assert replay.requests == []


async def test_the_llm_mentioning_shown_products_keeps_the_recommendation() -> None:
    state = after_first_turn()
    await second_turn(state, writer_for(Replay([answer(GOOD)])))
    before = copy.deepcopy(state.recommended)
    text = "¿cuál me recomiendas más para programar?"
    intent = intent_of(text)
    update_state(state, text, intent, "es")
    only_lenovo = {"reply": "Para programar, la **Lenovo ThinkPad X1** ($1,189) tiene un teclado legendario y SSD "
                            "1TB. ¿Quieres que te la aparte?", "quick_replies": ["Sí"], "products": ["LEN-X1"]}

    composed = await compose_reply(state, text, intent, search(CATALOG, search_text(state)), POLICIES, [],
                                   writer_for(Replay([answer(only_lenovo)])))

    assert composed.author.startswith("openai") and composed.reply.products == ["LEN-X1"]
    assert state.recommended == before == ["DELL-XPS13", "LEN-X1"] and state.selected is None


async def test_the_calls_become_llm_call_rows_with_the_reply_task() -> None:
    class Session:
        def __init__(self) -> None:
            self.added: list = []

        def add_all(self, rows: list) -> None:
            self.added.extend(rows)

    composed = await second_turn(after_first_turn(), writer_for(Replay([answer(WRONG_PRICE), answer(GOOD)])))
    session = Session()

    await save_llm_calls(session, composed.records)  # type: ignore[arg-type]

    assert [(row.task, row.provider, row.model, row.outcome) for row in session.added] == [
        ("reply", "openai", "gpt-5-mini", "invalid_output"), ("reply", "openai", "gpt-5-mini", "ok")]
    assert session.added[0].input_tokens == 1200 and session.added[0].error.startswith("fact check: price 999")
