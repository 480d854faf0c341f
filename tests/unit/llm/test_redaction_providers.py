"""Redaction at the adapters' one choke point (LlmProvider._call), replayed through each SDK's own client: the
HTTP request a provider would receive holds none of the customer's phone, email, card or address, for every task
(intent, sentiment, lead, the repair request, the chat reply, captions), and what the caller gets back has the
customer's values restored. Also: the chat reply's fact check with restored values, invented placeholders never
reaching a customer, call records without contact details, and the local path left as it was."""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal

import pytest

from ml.content.captions import CaptionRequest
from ml.content.writer import CaptionWriter
from ml.llm.base import ProviderInvalidOutput
from ml.llm.chain import AnalyzerChain
from ml.llm.reply_writer import ReplyRequest, ReplyWriter
from ml.nlu.entities import extract_entities
from ml.nlu.types import IntentResult, LeadScore, SentimentResult
from serving.services.chat.facts_check import check_draft
from serving.services.chat.llm_reply import LOCAL_AUTHOR, compose_reply
from serving.services.chat.responder import search_text, update_state
from serving.services.chat.state import DialogueState
from tests.unit.chat.test_responder import CATALOG, POLICIES, search
from tests.unit.llm.replay import CASES, INTENT_JSON, LEAD_JSON, SENTIMENT_JSON, ProviderCase, Replay
from tests.unit.test_content_captions import IPHONE

OPENAI, ANTHROPIC, GEMINI = CASES
PER_PROVIDER = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])

PHONE, EMAIL, CARD, ADDRESS = "6123-4567", "ana.gomez@correo.pa", "4111 1111 1111 1111", "Calle 50 #23-45, apto 5B"
MESSAGE = (f"Hola, soy dueña de una empresa y necesito 500 unidades del iPhone 15 128GB, pedido 10045. "
           f"Mi cel {PHONE}, correo {EMAIL}; envíen a {ADDRESS} y cobren a la tarjeta {CARD}.")
# Every way these values could show up in a request body (JSON-encoded by the SDK).
SECRETS = (PHONE, "61234567", "6123 4567", EMAIL, "ana.gomez", "correo.pa", "Calle 50", "23-45", "apto 5B",
           CARD, "4111")
KEPT = ("500 unidades", "iPhone 15 128GB", "pedido 10045")


def sent(replay: Replay) -> list[str]:
    """The raw bodies of every request the provider received, as text."""
    return [request.content.decode("utf-8") for request in replay.requests]


def assert_nothing_private(replay: Replay) -> None:
    assert replay.requests
    for body in sent(replay):
        for secret in SECRETS:
            assert secret not in body, secret
            assert secret not in json.dumps(json.loads(body), ensure_ascii=False), secret


def intent_answer(**entities: list[str]) -> str:
    data = json.loads(INTENT_JSON)
    data["entities"] |= entities
    data["reasoning"] = "Compra por volumen; envío a [ADDRESS_1]"
    return json.dumps(data, ensure_ascii=False)


# --- the analysis tasks ------------------------------------------------------------------------------------

@PER_PROVIDER
async def test_intent_request_is_redacted_and_the_entities_come_back_restored(case: ProviderCase) -> None:
    replay = Replay([case.ok(intent_answer(emails=["[EMAIL_1]"], phones=["[PHONE_1]"]))])
    provider = case.build(replay)

    reply = await provider.run_task("intent", MESSAGE, {"sender_metadata": {"phone": "+507 6123 4567"},
                                                        "language": "es"})

    assert_nothing_private(replay)
    prompt = case.prompt_of(replay.bodies()[0])
    assert all(fact in prompt for fact in KEPT)
    assert "[PHONE_1]" in prompt and "[EMAIL_1]" in prompt and "[ADDRESS_1]" in prompt and "[CARD_1]" in prompt
    assert prompt.count("[PHONE_1]") == 2  # the message and the context: one value, one placeholder
    assert "+507" not in prompt
    result = reply.result
    assert isinstance(result, IntentResult)
    assert result.entities.emails == [EMAIL] and result.entities.phones == [PHONE]
    assert result.reasoning == f"Compra por volumen; envío a {ADDRESS}"


@PER_PROVIDER
@pytest.mark.parametrize(("task", "answer", "kind"), [
    ("sentiment", SENTIMENT_JSON, SentimentResult), ("lead", LEAD_JSON, LeadScore),
], ids=["sentiment", "lead"])
async def test_sentiment_and_lead_requests_are_redacted(case: ProviderCase, task: str, answer: str,
                                                        kind: type) -> None:
    replay = Replay([case.ok(answer)])

    reply = await case.build(replay).run_task(task, MESSAGE, {"name": "Ana", "phone": PHONE})

    assert isinstance(reply.result, kind)
    assert_nothing_private(replay)
    assert all(fact in case.prompt_of(replay.bodies()[0]) for fact in KEPT)


@PER_PROVIDER
async def test_the_repair_request_is_redacted_too(case: ProviderCase) -> None:
    # The first answer is not a valid result and quotes the customer's details back (through placeholders):
    # the repair request holds that answer, redacted again.
    invalid = json.dumps({"primary_intent": "comprar", "entities": {"emails": ["[EMAIL_1]"]},
                          "reasoning": "llamar al [PHONE_1]"})
    replay = Replay([case.ok(invalid), case.ok(intent_answer(emails=["[EMAIL_1]"]))])

    reply = await case.build(replay).run_task("intent", MESSAGE)

    assert len(replay.requests) == 2
    assert_nothing_private(replay)
    repair = case.prompt_of(replay.bodies()[1])
    assert "llamar al [PHONE_1]" in repair and '"[EMAIL_1]"' in repair
    assert reply.result.entities.emails == [EMAIL]


@PER_PROVIDER
async def test_the_system_prompt_explains_the_placeholders_only_when_there_are_some(case: ProviderCase) -> None:
    replay = Replay([case.ok(SENTIMENT_JSON)])
    provider = case.build(replay)

    await provider.run_task("sentiment", MESSAGE)
    await provider.run_task("sentiment", "Llegó roto, quiero reembolso")

    first, second = sent(replay)
    assert "hidden contact details: [PHONE_1], [EMAIL_1], [ADDRESS_1], [CARD_1]" in first
    assert "hidden contact details" not in second


@PER_PROVIDER
async def test_failed_calls_are_recorded_without_contact_details(case: ProviderCase) -> None:
    """crm.llm_calls keeps no prompt or answer text; what it keeps (the error) never quotes the customer."""
    invalid = json.dumps({"primary_intent": f"escribir a {EMAIL} o {PHONE}"})
    replay = Replay([case.ok(invalid)])
    local = CapturingLocal()
    chain = AnalyzerChain([case.build(replay)], local)

    answer = await chain.detect_intent(MESSAGE)

    assert answer.provider == "local"
    assert [r.outcome for r in answer.records] == ["invalid_output", "ok"]
    for record in answer.records:
        assert set(asdict(record)) == {"task", "provider", "model", "latency_ms", "input_tokens", "output_tokens",
                                       "estimated_cost_usd", "outcome", "error"}
        assert not any(secret in repr(record) for secret in SECRETS)
    assert_nothing_private(replay)


class CapturingLocal:
    """The local analyzer, reduced to what the chain calls; keeps the text it was given."""

    name = "local"

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def detect_intent(self, text: str, context: dict | None = None) -> IntentResult:
        self.texts.append(text)
        return IntentResult(primary_intent="purchase_inquiry", confidence=0.95, entities=extract_entities(text))

    async def analyze_sentiment(self, text: str, context: dict | None = None) -> SentimentResult:
        raise NotImplementedError

    async def classify_lead(self, text: str, context: dict | None = None) -> LeadScore:
        raise NotImplementedError


async def test_the_local_path_is_unchanged_nothing_is_redacted_for_it() -> None:
    local = CapturingLocal()
    replay = Replay([OPENAI.ok(INTENT_JSON)])
    chain = AnalyzerChain([OPENAI.build(replay)], local, mode="cascade", cascade_threshold=0.9)

    answer = await chain.detect_intent(MESSAGE)

    assert answer.provider == "local" and replay.requests == []  # confident: no provider asked
    assert local.texts == [MESSAGE]
    assert EMAIL in answer.result.entities.emails


# --- free-form answers: the chat reply and captions --------------------------------------------------------

def reply_request() -> ReplyRequest:
    products = [{"sku": p.sku, "name": p.name, "price": str(p.price), "stock": p.stock} for p in CATALOG[:2]]
    return ReplyRequest(message=MESSAGE, products=products, policies=POLICIES,
                        history=[("customer", f"Hola, soy Ana Gómez, mi correo es {EMAIL}")],
                        customer="idioma: es; ciudad: Panamá", redact=["Ana", "Gómez"])


@PER_PROVIDER
async def test_the_reply_request_is_redacted_and_the_draft_restored(case: ProviderCase) -> None:
    draft = {"reply": "¡Listo! Te envío la cotización a [EMAIL_1] y coordinamos la entrega en [ADDRESS_1]. "
                      "Si prefieres, te llamamos al [PHONE_1].",
             "quick_replies": ["Sí, gracias"], "products": []}
    replay = Replay([case.ok(json.dumps(draft, ensure_ascii=False))])

    result = await ReplyWriter([case.build(replay)]).write(reply_request())

    assert_nothing_private(replay)
    assert "[nombre]" in case.prompt_of(replay.bodies()[0])
    assert result.draft is not None
    assert result.draft.text == (f"¡Listo! Te envío la cotización a {EMAIL} y coordinamos la entrega en "
                                 f"{ADDRESS}. Si prefieres, te llamamos al {PHONE}.")


@PER_PROVIDER
async def test_an_invented_placeholder_is_invalid_output_and_never_returned(case: ProviderCase) -> None:
    draft = {"reply": "Te llamamos al [PHONE_9] o escribe a [EMAIL_1]", "quick_replies": [], "products": []}
    replay = Replay([case.ok(json.dumps(draft))])
    provider = case.build(replay)

    with pytest.raises(ProviderInvalidOutput, match=r"\[PHONE_9\]"):
        await provider.complete_json("Responde en JSON", MESSAGE)

    result = await ReplyWriter([provider]).write(reply_request())
    assert result.draft is None
    assert [r.outcome for r in result.records] == ["invalid_output"]
    assert "[PHONE_9]" in (result.records[0].error or "") and EMAIL not in (result.records[0].error or "")


@PER_PROVIDER
async def test_caption_requests_are_redacted_and_the_caption_restored(case: ProviderCase) -> None:
    product = IPHONE.__class__(**(asdict(IPHONE) | {
        "description": "Apple iPhone 15. Pedidos por WhatsApp al 6123-4567 o en tienda: Calle 50 #23-45."}))
    caption = {"caption": "Nuevo iPhone 15 128GB 📱 Pídelo al [PHONE_1] o visítanos en [ADDRESS_1]."}
    replay = Replay([case.ok(json.dumps(caption, ensure_ascii=False))])

    written = await CaptionWriter([case.build(replay)]).write(
        CaptionRequest(product, "new_product", "es", "cercana", ["tienda"], "k"))

    for body in sent(replay):
        assert "6123-4567" not in body and "Calle 50" not in body
    assert written.written_by == "llm", written.rejected
    assert "Pídelo al 6123-4567 o visítanos en Calle 50 #23-45." in written.text


# --- the chat reply's fact check with restored values ------------------------------------------------------

FIRST = "Hola, busco una laptop para programación"
SECOND = f"Desarrollo web, presupuesto hasta $1200. Escríbeme a {EMAIL}, vivo en Calle 50 #23-45"
GROUNDED = ("Para desarrollo web hasta $1,200 te recomiendo la **Dell XPS 13** - $1,099: Intel i7, 16GB RAM, "
            "SSD 512GB. Tenemos 3 en stock.")


async def chat_turn(*drafts: dict) -> tuple[object, Replay]:
    state = DialogueState()
    for text in (FIRST, SECOND):
        intent = IntentResult(primary_intent="product_info", confidence=0.9, entities=extract_entities(text))
        update_state(state, text, intent, "es")
    replay = Replay([OPENAI.ok(json.dumps(d, ensure_ascii=False)) for d in drafts])
    composed = await compose_reply(state, SECOND, intent, search(CATALOG, search_text(state)), POLICIES,
                                   [("customer", FIRST), ("assistant", "¿Para qué la vas a usar?")],
                                   ReplyWriter([OPENAI.build(replay, max_retries=0)]))
    return composed, replay


async def test_a_reply_repeating_the_customers_email_and_address_passes_the_fact_check() -> None:
    draft = {"reply": f"{GROUNDED} Te envío la ficha a [EMAIL_1] y la entregamos en [ADDRESS_1]. ¿Te la reservo?",
             "quick_replies": ["Sí"], "products": ["DELL-XPS13"]}

    composed, replay = await chat_turn(draft)

    assert composed.author == "openai:gpt-5-mini", composed.rejected
    assert composed.reply.text.endswith(f"Te envío la ficha a {EMAIL} y la entregamos en Calle 50 #23-45. "
                                        "¿Te la reservo?")
    assert composed.rejected == [] and len(replay.requests) == 1
    for body in sent(replay):
        assert EMAIL not in body and "Calle 50" not in body


async def test_a_contact_detail_the_model_made_up_is_caught_and_regenerated() -> None:
    invented = {"reply": f"{GROUNDED} Llámanos al 6000-1234 o escribe a soporte@tienda-falsa.com",
                "quick_replies": [], "products": ["DELL-XPS13"]}
    good = {"reply": GROUNDED, "quick_replies": [], "products": ["DELL-XPS13"]}

    composed, replay = await chat_turn(invented, good)

    assert composed.reply.text == GROUNDED and len(replay.requests) == 2
    assert "phone number that neither the customer nor the policies gave" in composed.rejected
    assert "email that neither the customer nor the policies gave" in composed.rejected
    assert "6000-1234" not in (composed.records[0].error or "")


async def test_an_invented_placeholder_falls_back_to_the_local_answer() -> None:
    draft = {"reply": f"{GROUNDED} Te llamamos al [PHONE_9].", "quick_replies": [], "products": ["DELL-XPS13"]}

    composed, _ = await chat_turn(draft)

    assert composed.author == LOCAL_AUTHOR
    assert "[PHONE_9]" not in composed.reply.text
    assert [r.outcome for r in composed.records] == ["invalid_output"]


@pytest.mark.parametrize(("text", "customer", "policies", "problems"), [
    ("Te escribo a ana@x.com y enviamos a Calle 50 #23-45.", "ana@x.com, Calle 50 #23-45, apto 5B", {}, []),
    ("Te llamamos al +507 6123 4567.", "mi cel 6123-4567", {}, []),
    ("Visítanos en Calle 50 #23-45.", "", {"store": "Calle 50 #23-45, local 3"}, []),
    ("Enviamos a Calle 50 #23-45.", "vivo en Avenida Perú", {},
     ["address that neither the customer nor the policies gave"]),
    ("Te llamamos al [PHONE_2].", "mi cel 6123-4567", {}, ["placeholder [PHONE_2] stands for nothing"]),
    ("Cobramos a tu tarjeta 4111 1111 1111 1111.", "mi tarjeta 4111 1111 1111 1111", {},
     ["a card number, which a reply never repeats"]),
], ids=["customer-echo", "same-phone-other-spelling", "store-address", "invented-address", "placeholder",
        "card-never-repeated"])
def test_check_draft_and_contact_details(text: str, customer: str, policies: dict, problems: list[str]) -> None:
    assert check_draft(text, [], CATALOG, POLICIES | policies, [Decimal(1200)], customer_text=customer) == problems
