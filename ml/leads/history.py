"""A synthetic past for the lead-conversion model: leads who wrote in over the last months, what they wrote, and
whether they bought within 90 days.

Each lead has a hidden buying intent and a hidden "fit" nobody observes. The intent shapes what they write (and so,
noisily, what the NLU reads from it); whether they buy depends on intent, fit, past purchases, the channel and
plain luck, so no single observed feature gives the outcome away. Pure: returns plain records; the demo writes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

CHANNELS = ("whatsapp", "instagram", "messenger")
CITIES = ("Panamá", "David", "Colón", "Santiago", "Chitré", "La Chorrera")
PRODUCTS = ("iPhone 15", "Tablet Samsung Galaxy Tab A9", "audífonos JBL", "laptop Lenovo IdeaPad 5",
            "Samsung Galaxy A55", "smartwatch", "parlante bluetooth", "monitor de 27 pulgadas")

HOT = ("Quiero comprar {product} hoy mismo, tengo ${budget}. ¿Hacen envío a {city}?",
       "Necesito {qty} {product} urgente para la oficina, ¿me confirmas precio y pago con tarjeta?",
       "Me llevo {product}, ¿cómo pago? Lo necesito esta semana",
       "Hola, soy gerente de compras, necesitamos {qty} unidades de {product}. Presupuesto ${budget}",
       "I want to buy the {product} today, my budget is ${budget}, can you ship to {city}?")
WARM = ("¿Cuánto cuesta {product}?", "Info de {product} por favor, ¿tienen en stock?",
        "¿Qué diferencia hay entre {product} y el modelo anterior?", "¿Tienen {product} en color negro?",
        "Hola, ¿el precio de {product} incluye envío a {city}?", "How much is the {product}?")
COLD = ("hola", "solo estoy mirando, gracias", "¿qué horario tienen?", "ok", "¿dónde están ubicados?",
        "Buenas, una pregunta", "jaja ok", "hi")
FOLLOW_UPS = {"hot": ("Perfecto, ¿me pasas el link de pago?", "¿Para cuándo llegaría?", "Dale, lo quiero"),
              "warm": ("Lo voy a pensar", "¿Tienen garantía?", "¿Aceptan Yappy?"),
              "cold": ("ok gracias", "bueno", "👍")}


@dataclass
class LeadStory:
    """One lead: who, when and how they first wrote, their follow-ups, past orders and what came of it."""

    key: str
    channel: str
    city: str
    first_at: datetime
    messages: list[tuple[datetime, str, str]]  # (sent_at, direction, text)
    prior_orders: list[tuple[datetime, float]] = field(default_factory=list)
    later_orders: list[tuple[datetime, float]] = field(default_factory=list)  # after the first message
    converted_within_90_days: bool = False


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def lead_history(n: int, now: datetime, seed: int = 7, months: int = 15) -> list[LeadStory]:
    """`n` leads whose first message falls in the `months` before `now` (recent ones have no outcome yet)."""
    rng = np.random.default_rng(seed)
    span = timedelta(days=30 * months)
    stories = []
    for i in range(n):
        intent = rng.normal()  # hidden buying intent
        fit = rng.normal()  # hidden: can they afford it, is it for them
        kind = "hot" if intent + rng.normal(0, 0.4) > 0.9 else ("warm" if intent + rng.normal(0, 0.4) > -0.4
                                                                  else "cold")
        channel = CHANNELS[int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
        city = CITIES[int(rng.integers(len(CITIES)))]
        first_at = now - span + timedelta(seconds=float(rng.uniform(0, span.total_seconds())))
        first_at = first_at.replace(hour=int(rng.choice(range(7, 23))), microsecond=0)
        if first_at >= now:
            first_at = now - timedelta(hours=1)
        pool = {"hot": HOT, "warm": WARM, "cold": COLD}[kind]
        text = pool[int(rng.integers(len(pool)))].format(
            product=PRODUCTS[int(rng.integers(len(PRODUCTS)))], budget=int(rng.choice([80, 150, 300, 600, 900, 1500])),
            city=city, qty=int(rng.choice([2, 3, 5, 10])))
        messages = [(first_at, "inbound", text), (first_at + timedelta(seconds=float(rng.uniform(1, 4))),
                                                   "outbound", "¡Hola! Con gusto te ayudo.")]
        for k in range(int(rng.poisson(1.2 if kind != "cold" else 0.4))):
            at = first_at + timedelta(minutes=float(rng.uniform(2, 600)) * (k + 1))
            follow = FOLLOW_UPS[kind]
            messages.append((at, "inbound", follow[int(rng.integers(len(follow)))]))
        returning = rng.random() < 0.18
        prior = []
        if returning:
            for _ in range(int(rng.integers(1, 4))):
                prior.append((first_at - timedelta(days=float(rng.uniform(20, 400))),
                              round(float(rng.lognormal(4.6, 0.8)), 2)))
        # Whether they buy: mostly the hidden intent and fit, partly what shows, plus luck.
        logit = -1.6 + 1.1 * intent + 0.7 * fit + (0.8 if returning else 0.0) \
            + {"whatsapp": 0.25, "instagram": -0.1, "messenger": -0.25}[channel] + rng.normal(0, 0.8)
        later = []
        converted = False
        if rng.random() < _sigmoid(logit):
            delay = timedelta(days=float(rng.exponential(18)))  # some buy after the 90 days: not converted
            if first_at + delay < now:
                later.append((first_at + delay, round(float(rng.lognormal(5.2 + 0.3 * fit, 0.7)), 2)))
                converted = delay <= timedelta(days=90)
        stories.append(LeadStory(key=f"hist-{seed}-{i}", channel=channel, city=city, first_at=first_at,
                                 messages=sorted(messages), prior_orders=prior, later_orders=later,
                                 converted_within_90_days=converted))
    return stories
