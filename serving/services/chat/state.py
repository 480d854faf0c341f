"""What the agent remembers of a conversation between turns (stored as JSON on the conversation)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from ml.nlu.text import fold

BUDGET = re.compile(r"(?:hasta|maximo|max|presupuesto(?: de)?|budget(?: of)?|up to|under|menos de|no mas de)\s*"
                    r"(?:de\s*)?(?:us)?\$?\s*(\d{1,3}(?:[.,]\d{3})+|\d+)", re.IGNORECASE)
SHIPPING_WORDS = re.compile(r"\b(envio|envios|enviar|shipping|ship|delivery|entrega|demora|tarda|llega|arrive)\b")
STOPWORDS = {"hola", "busco", "quiero", "necesito", "una", "uno", "unos", "unas", "para", "con", "que", "por", "los",
             "las", "del", "the", "for", "and", "looking", "need", "want", "hasta", "presupuesto", "budget", "hi",
             "hello", "buenas", "tienen", "tiene", "hay", "some", "any", "mas", "menos", "gracias", "thanks",
             "porfa", "please", "pls", "quisiera", "would", "like", "mi", "my", "me", "de", "el", "la", "un", "a"}


@dataclass
class DialogueState:
    language: str = "es"
    need: list[str] = field(default_factory=list)  # words of what the customer is looking for
    budget: str | None = None  # Decimal as text, JSON-safe
    recommended: list[str] = field(default_factory=list)  # skus offered, in order
    selected: str | None = None
    quantity: int | None = None
    city: str | None = None
    shipping: str | None = None
    turns: int = 0

    @property
    def budget_amount(self) -> Decimal | None:
        return Decimal(self.budget) if self.budget is not None else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DialogueState:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


def read_budget(text: str, money: list[dict]) -> Decimal | None:
    match = BUDGET.search(fold(text))
    if match:
        return Decimal(re.sub(r"[.,]", "", match.group(1)))
    if money:
        return Decimal(str(max(m["amount"] for m in money)))
    return None


def need_words(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]{3,}", fold(text))
    return [w for w in words if w not in STOPWORDS and not w.isdigit()]


def asks_about_shipping(text: str) -> bool:
    return bool(SHIPPING_WORDS.search(fold(text)))
