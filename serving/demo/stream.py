"""A synthetic, reproducible stream of Meta webhooks: Spanish and English customers on all three channels.

Bodies follow the documented Cloud API / Messenger Platform / Instagram shapes (the same ones the conformance
corpus in shared/fixtures/meta has). The stream includes what real traffic has: duplicates (Meta retries),
statuses out of order, media, reactions, comments and lead-ad submissions. Same seed, same stream.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from faker import Faker

WA_PHONE_NUMBER_ID = "109876543210001"
WA_DISPLAY_NUMBER = "50760001234"
WABA_ID = "100200300400500"
PAGE_ID = "200300400500600"
IG_ACCOUNT_ID = "17841400000000001"
# Messenger / Instagram attachments link to a CDN; in the demo the Graph sandbox's file route stands in for it.
SANDBOX_URL = "http://127.0.0.1:8765"

SPANISH = [
    "hola buenas, tienen disponible el {product}? 🙏",
    "cuanto cuesta el {product}??",
    "q precio tiene el {product} y hacen envios a {city}",
    "buenas tardes, quisiera comprar 2 {product} para mi negocio",
    "mi pedido no ha llegado y ya pasaron 5 dias 😡 necesito una respuesta YA",
    "hola! el {product} tiene garantia? se me daño la pantalla",
    "aceptan yappy o solo tarjeta?",
    "wow me encanto el {product} 😍 lo quiero",
    "hasta que hora estan abiertos hoy",
    "necesito factura para la compra de ayer porfa",
    "ok gracias, lo pienso y les aviso",
    "q tal, me pueden mandar fotos del {product} en color negro",
    "buenas, soy el dueño de una tienda en {city} y necesito 40 {product} urgente para mañana, "
    "tengo presupuesto aprobado y pago por transferencia",
]
ENGLISH = [
    "hi! is the {product} still in stock?",
    "how much for the {product}? do you ship to {city}",
    "I'd like to order 3 {product} for my office asap",
    "my order still hasn't arrived, this is really frustrating",
    "does the {product} come with warranty? mine stopped working",
    "do u take credit card",
    "love it!! 😍 where do I pay",
    "can I return the {product} if it doesn't fit?",
    "thanks, I'll think about it",
    "hey can you send me the invoice for last week's purchase",
    "I'm the owner of a small office in {city}, we need 25 {product} asap this week, budget approved, "
    "send me the payment link",
]
PRODUCTS = ["iPhone 15", "audifonos JBL", "laptop Lenovo", "smart TV 55", "reloj Garmin", "silla gamer",
            "cafetera Oster", "tablet Samsung"]
CITIES_PA = ["Panamá", "David", "Colón", "Santiago", "Chitré", "La Chorrera"]
CITIES_EN = ["Panama City", "Miami", "Houston", "Bocas del Toro"]


@dataclass
class Customer:
    channel: str
    language: str
    name: str
    external_id: str
    phone: str | None = None
    user_id: str | None = None


@dataclass
class StreamEvent:
    """One delivery: the JSON body, what it represents, and whether it is a redelivery of an earlier one."""

    body: dict[str, Any]
    kind: str
    channel: str
    duplicate_of: int | None = None


@dataclass
class Stream:
    events: list[StreamEvent] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)


def _wa_envelope(value: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": WA_DISPLAY_NUMBER, "phone_number_id": WA_PHONE_NUMBER_ID},
             **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}]}


def _messaging_envelope(channel: str, event: dict[str, Any], at: datetime) -> dict[str, Any]:
    account = PAGE_ID if channel == "messenger" else IG_ACCOUNT_ID
    return {"object": "page" if channel == "messenger" else "instagram",
            "entry": [{"id": account, "time": int(at.timestamp() * 1000), "messaging": [event]}]}


def media_base_url() -> str:
    """Where the demo's attachment links point: DEMO_MEDIA_BASE_URL, else the Graph sandbox."""
    return (os.environ.get("DEMO_MEDIA_BASE_URL") or os.environ.get("META_GRAPH_BASE_URL") or SANDBOX_URL).rstrip("/")


# How far back a stream starts; its events follow every few seconds to a minute, so a default stream (about 200
# deliveries) ends well before now and inside the 24-hour window. Floored to the hour: the same seed replayed
# within the hour is the same stream, absorbed as duplicates.
STREAM_SPAN = timedelta(hours=4)


class StreamBuilder:
    def __init__(self, seed: int, start: datetime | None = None):
        self.rng = random.Random(seed)
        self.seed = seed
        self.fake_es = Faker("es_MX")
        self.fake_en = Faker("en_US")
        self.fake_es.seed_instance(seed)
        self.fake_en.seed_instance(seed + 1)
        # Recent by default: replies go only within 24 hours of the customer's message (the service window).
        self.clock = start or (datetime.now(UTC) - STREAM_SPAN).replace(minute=0, second=0, microsecond=0)
        self.counter = 0

    def _next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.seed:04d}{self.counter:06d}"

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=self.rng.randint(2, 60))
        return self.clock

    def customer(self) -> Customer:
        channel = self.rng.choices(["whatsapp", "instagram", "messenger"], weights=[5, 3, 2])[0]
        language = self.rng.choices(["es", "en"], weights=[7, 3])[0]
        fake = self.fake_es if language == "es" else self.fake_en
        name = fake.name()
        if channel == "whatsapp":
            phone = f"5076{self.rng.randint(1000000, 9999999)}" if language == "es" else \
                f"1{self.rng.randint(2000000000, 9999999999)}"
            return Customer(channel, language, name, phone, phone=phone,
                            user_id=f"PA.{self.rng.randint(10**17, 10**18 - 1)}")
        return Customer(channel, language, name, str(self.rng.randint(10**15, 10**16 - 1)))

    def text(self, customer: Customer) -> str:
        templates = SPANISH if customer.language == "es" else ENGLISH
        cities = CITIES_PA if customer.language == "es" else CITIES_EN
        return self.rng.choice(templates).format(product=self.rng.choice(PRODUCTS), city=self.rng.choice(cities))

    def inbound(self, customer: Customer, with_media: bool = False) -> StreamEvent:
        at = self._tick()
        text = self.text(customer)
        if customer.channel == "whatsapp":
            message: dict[str, Any] = {"from": customer.phone, "id": self._next_id("wamid.DEMO"),
                                       "timestamp": str(int(at.timestamp()))}
            if with_media:
                message |= {"type": "image", "image": {"id": self._next_id("media"), "mime_type": "image/jpeg",
                                                       "sha256": "demo", "caption": text}}
            else:
                message |= {"type": "text", "text": {"body": text}}
            body = _wa_envelope({
                "contacts": [{"profile": {"name": customer.name}, "wa_id": customer.phone,
                              "user_id": customer.user_id}],
                "messages": [message],
            })
            return StreamEvent(body, "message", customer.channel)
        account = PAGE_ID if customer.channel == "messenger" else IG_ACCOUNT_ID
        mid = self._next_id("m_DEMO" if customer.channel == "messenger" else "aWdfDEMO")
        content: dict[str, Any] = {"mid": mid, "text": text}
        if with_media:
            content["attachments"] = [{"type": "image", "payload": {"url": f"{media_base_url()}/_sandbox/media/"
                                                                           f"{mid}.jpg"}}]
        event = {"sender": {"id": customer.external_id}, "recipient": {"id": account},
                 "timestamp": int(at.timestamp() * 1000), "message": content}
        return StreamEvent(_messaging_envelope(customer.channel, event, at), "message", customer.channel)

    def wa_statuses(self, customer: Customer) -> list[StreamEvent]:
        """An outbound reply's receipts, delivered out of order (read can arrive before delivered)."""
        wamid = self._next_id("wamid.OUT")
        base = self._tick()
        states = ["sent", "delivered", "read"]
        events = []
        for offset, state in enumerate(states):
            status = {"id": wamid, "status": state, "timestamp": str(int(base.timestamp()) + offset * 3),
                      "recipient_id": customer.phone,
                      "conversation": {"id": self._next_id("conv"), "origin": {"type": "service"}},
                      "pricing": {"billable": True, "pricing_model": "PMP", "category": "service"}}
            events.append(StreamEvent(_wa_envelope({"statuses": [status]}), f"status:{state}", "whatsapp"))
        self.rng.shuffle(events)
        return events

    def reaction(self, customer: Customer, target: StreamEvent) -> StreamEvent | None:
        if customer.channel != "whatsapp":
            return None
        target_id = target.body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        at = self._tick()
        message = {"from": customer.phone, "id": self._next_id("wamid.REACT"),
                   "timestamp": str(int(at.timestamp())), "type": "reaction",
                   "reaction": {"message_id": target_id, "emoji": "👍"}}
        return StreamEvent(_wa_envelope({"contacts": [{"profile": {"name": customer.name},
                                                       "wa_id": customer.phone}],
                                         "messages": [message]}), "reaction", "whatsapp")

    def ig_comment(self, customer: Customer) -> StreamEvent:
        at = self._tick()
        value = {"from": {"id": str(self.rng.randint(10**15, 10**16 - 1)), "username": customer.name.split()[0]
                          .lower()}, "media": {"id": "17900000000000001", "media_product_type": "FEED"},
                 "id": self._next_id("1790"), "text": self.text(customer)}
        body = {"object": "instagram", "entry": [{"id": IG_ACCOUNT_ID, "time": int(at.timestamp()),
                                                   "changes": [{"field": "comments", "value": value}]}]}
        return StreamEvent(body, "comment", "instagram")

    def fb_comment(self, customer: Customer) -> StreamEvent:
        at = self._tick()
        post_id = f"{PAGE_ID}_900000000000001"
        value = {"item": "comment", "verb": "add", "comment_id": self._next_id("9000_"), "post_id": post_id,
                 "parent_id": post_id, "from": {"id": customer.external_id, "name": customer.name},
                 "created_time": int(at.timestamp()), "message": self.text(customer)}
        body = {"object": "page", "entry": [{"id": PAGE_ID, "time": int(at.timestamp()),
                                              "changes": [{"field": "feed", "value": value}]}]}
        return StreamEvent(body, "comment", "facebook")

    def leadgen(self) -> StreamEvent:
        at = self._tick()
        value = {"ad_id": self.rng.randint(10**14, 10**15), "form_id": 444555666,
                 "leadgen_id": int(self._next_id("7")), "created_time": int(at.timestamp()),
                 "page_id": int(PAGE_ID), "adgroup_id": self.rng.randint(10**14, 10**15)}
        body = {"object": "page", "entry": [{"id": PAGE_ID, "time": int(at.timestamp()),
                                              "changes": [{"field": "leadgen", "value": value}]}]}
        return StreamEvent(body, "leadgen", "facebook")


def build_stream(customers: int = 40, seed: int = 7, duplicate_rate: float = 0.15,
                 start: datetime | None = None) -> Stream:
    builder = StreamBuilder(seed, start)
    stream = Stream()
    for _ in range(customers):
        customer = builder.customer()
        stream.customers.append(customer)
        first = builder.inbound(customer)
        stream.events.append(first)
        for _ in range(builder.rng.randint(0, 3)):
            stream.events.append(builder.inbound(customer, with_media=builder.rng.random() < 0.15))
        if customer.channel == "whatsapp":
            stream.events.extend(builder.wa_statuses(customer))
            if builder.rng.random() < 0.3 and (reaction := builder.reaction(customer, first)):
                stream.events.append(reaction)
        if builder.rng.random() < 0.2:
            stream.events.append(builder.ig_comment(customer) if builder.rng.random() < 0.5
                                 else builder.fb_comment(customer))
    for _ in range(max(1, customers // 15)):
        stream.events.append(builder.leadgen())
    # Meta retries: some deliveries arrive again, later in the stream.
    originals = len(stream.events)
    for index in builder.rng.sample(range(originals), k=int(originals * duplicate_rate)):
        position = builder.rng.randint(index + 1, len(stream.events))
        original = stream.events[index]
        stream.events.insert(position, StreamEvent(original.body, original.kind, original.channel,
                                                   duplicate_of=index))
    return stream
