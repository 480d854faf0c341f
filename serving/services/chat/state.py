"""What the agent remembers of a conversation between turns (stored as JSON on the conversation), and the small
readers that turn a customer's words into its fields (budget, quantity, city, shipping option, yes / no)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from ml.nlu.entities import NUMBER_WORDS
from ml.nlu.text import fold

BUDGET = re.compile(r"(?:hasta|maximo|max|presupuesto(?: de)?|budget(?: of)?|up to|under|menos de|no mas de)\s*"
                    r"(?:de\s*)?(?:us)?\$?\s*(\d{1,3}(?:[.,]\d{3})+|\d+)", re.IGNORECASE)
SHIPPING_WORDS = re.compile(r"\b(envio|envios|enviar|shipping|ship|delivery|entrega|demora|tarda|llega|arrive)\b")
STOPWORDS = {"hola", "busco", "quiero", "necesito", "una", "uno", "unos", "unas", "para", "con", "que", "por", "los",
             "las", "del", "the", "for", "and", "looking", "need", "want", "hasta", "presupuesto", "budget", "hi",
             "hello", "buenas", "tienen", "tiene", "hay", "some", "any", "mas", "menos", "gracias", "thanks",
             "porfa", "please", "pls", "quisiera", "would", "like", "mi", "my", "me", "de", "el", "la", "un", "a"}

# The answers the bot can be waiting for while it takes an order (DialogueState.awaiting; "placed": it just
# created the draft). The responder reads an order it merely offered ("puedo procesarte la orden") as the
# pseudo-step "order_offer".
ORDER_STEPS = ("product", "quantity", "quantity_max", "city", "shipping", "confirm", "change")

# Matched on folded text (no accents, lower case). "la quiero", "me la llevo", "procésala", "I'll take it", a
# tapped "Comprar" / "Buy". Plain "quiero" is not here: "quiero una laptop" is still looking, not buying.
BUY = re.compile(
    r"\b(?:(?:la|lo|las|los) (?:quiero|compro|llevo|pido|aparto)|me (?:la|lo|las|los) llevo|"
    r"quiero (?:comprar\w*|ordenar\w*|pedir\w*|hacer (?:el|un|mi) pedido)|comprar(?:la|lo|las|los)?|"
    r"procesa(?:r|la|lo|las|los|rla|rlo|me)?|ordena(?:r|la|lo|rla|rlo)|pedirla|pedirlo|"
    r"(?:haz|has|hagamos|hacer|realiza|realizar|procesa|procesar|confirma|confirmar) (?:el|la|mi|un|una) "
    r"(?:pedido|orden|compra)|i'?ll take (?:it|them|one|this|that|\d+|\w+ of them)|ill take (?:it|them|one)|"
    r"i (?:want|would like|'d like|wanna) (?:it|them|to (?:buy|order|purchase))|"
    r"(?:buy|order|purchase|get) (?:it|them|one|this one|that one|now)|place (?:the|an|my) order|buy|checkout)\b")
YES = re.compile(r"^\W*(?:si+|claro|dale|ok|okay|okey|vale|listo|de acuerdo|confirm\w*|correcto|perfecto|"
                 r"por favor|porfa|yes|yeah|yep|yup|sure|go ahead|sounds good|do it|please|of course|absolutely)\b")
NO = re.compile(r"^\W*(?:no|nop|nope|mejor no|cambiar|cambia|cambiemos|modificar|change|edit)\b")
CANCEL = re.compile(r"\b(?:cancela\w*|cancel\w*|ya no (?:la|lo|las|los) quiero|olvidalo|forget it|never ?mind)\b")
CHANGE_FIELDS = (("quantity", re.compile(r"\b(?:cantidad|unidades|cuantas|quantity|how many|units)\b")),
                 ("city", re.compile(r"\b(?:ciudad|direccion|destino|city|address|destination)\b")),
                 ("shipping", re.compile(r"\b(?:envio|metodo|shipping|delivery|method)\b")))
_NUMBER = r"\d{1,4}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
# Outside the quantity question a bare number is anything; here it must follow a buying word ("me llevo dos") or
# come with a unit ("1 unidad": the NLU's quantities read the plural only).
SOFT_QUANTITY = re.compile(r"\b(?:quiero|llevo|pido|dame|take|want|order|buy|solo|just|only)\s+"
                           r"(?:solo\s+|just\s+)?(" + _NUMBER + r")\b|\b(" + _NUMBER + r")\s+"
                           r"(?:unidad(?:es)?|units?|piezas?|pcs)\b")
LOOSE_QUANTITY = re.compile(r"(?<![\w.,$])(" + _NUMBER + r")(?![\w.,])")
# A city the customer names while doing something else: "envíala a David", "ship it to Colón", "vivo en Chitré".
_PLACE = r"(?P<city>[^\W\d_]+(?:[ '-][^\W\d_]+){0,4})"
CITY_IN_SENTENCE = re.compile(
    r"\b(?:(?:env[ií]a(?:mela|melo|la|lo|las|los|r)?|m[aá]nda(?:mela|melo|la|lo|r)?|entr[eé]ga(?:la|lo|r)?|"
    r"ll[eé]va(?:la|lo)|mejor|ship(?: it| them)?|send(?: it| them)|deliver(?: it| them)?|better)"
    r"\s+(?:a|en|hasta|to|in)|vivo en|soy de|i live in)\s+" + _PLACE, re.IGNORECASE)
ANSWER_PREFIX = re.compile(r"^\s*(?:(?:la |mi )?ciudad(?: es|:)|(?:the |my )?city(?: is|:)|es|ser[ií]a|"
                           r"env[ií]a(?:la|lo|mela|melo)?|ship(?: it)?|send(?: it)?)?"
                           r"\s*(?:a|en|para|hasta|to|in)?\s+", re.IGNORECASE)
# Words that end a city name ("David por Express") or show the answer is no city at all ("ok gracias").
CITY_STOP = {"y", "e", "and", "con", "with", "por", "porfa", "please", "pls", "que", "pero", "but", "manana",
             "hoy", "tomorrow", "today", "urgente", "gracias", "thanks", "asap", "ya"}
NOT_CITY = {"si", "no", "ok", "okay", "vale", "listo", "claro", "dale", "gracias", "thanks", "hola", "hi", "hello",
            "yes", "sure", "quiero", "want", "me", "mi", "my", "gusta", "like", "cual", "cuanto", "cuantas",
            "como", "donde", "que", "what", "which", "how", "where", "when", "cuando", "tienen", "hay", "have",
            "is", "are", "it", "the", "este", "esta", "eso", "esa", "this", "that", "comprar", "buy", "order",
            "pedido", "orden", "envio", "shipping", "precio", "price", "stock", "cancelar", "cancel", "cambiar",
            "change", "cantidad", "quantity", "unidad", "unidades", "una", "uno", "one", "dos",
            "two", "tres", "three", "perfecto", "genial", "great", "bien", "good", "nada", "nothing", "confirmar",
            "confirm", "procesala", "procesalo", "todavia", "aun", "not", "mejor", "otra", "otro", "another"}
SMALL_WORDS = {"de", "del", "la", "las", "los", "el", "y"}
SHIPPING_ALIASES = {"estandar": ("standard", "normal", "regular"), "express": ("expres", "expreso")}
FREE_WORDS = {"gratis", "gratuito", "gratuita", "free"}


@dataclass
class DialogueState:
    language: str = "es"
    need: list[str] = field(default_factory=list)  # words of what the customer is looking for
    budget: str | None = None  # Decimal as text, JSON-safe
    recommended: list[str] = field(default_factory=list)  # skus offered, in order
    selected: str | None = None
    quantity: int | None = None
    city: str | None = None
    shipping: str | None = None  # a shipping option's name, as the policies spell it
    turns: int = 0
    # Escalation reasons a person already looked at and handed back to the bot (VIP, value, mood): not again.
    cleared_reasons: list[str] = field(default_factory=list)
    # The order being taken: the answer the bot asked for last (ORDER_STEPS or "placed"; while set, the turn is
    # part of a state machine and keeps the local wording), whether the last reply only offered to take an order
    # (a conversational turn: "sí" or a city then starts it), the summary the customer saw (a "sí" confirms only
    # that one, at that total), and whether the draft exists (a second "sí" must not create another; orders.py
    # fills the number in).
    awaiting: str | None = None
    order_offered: bool = False
    ordering: bool = False
    quote: str | None = None
    order_placed: bool = False
    order_number: str | None = None

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


# --- taking an order --------------------------------------------------------------------------------------------


def wants_to_buy(text: str) -> bool:
    return bool(BUY.search(fold(text)))


def is_yes(text: str) -> bool:
    return bool(YES.search(fold(text)))


def is_no(text: str) -> bool:
    return bool(NO.search(fold(text)))


def cancels(text: str) -> bool:
    return bool(CANCEL.search(fold(text)))


def field_to_change(text: str) -> str | None:
    """Which part of the order the customer wants to change ("Cantidad", "the city"), if they said."""
    folded = fold(text)
    return next((name for name, pattern in CHANGE_FIELDS if pattern.search(folded)), None)


def read_quantity(text: str, found: list[int], loose: bool = False) -> int | None:
    """How many the customer wants: the NLU's quantities first ("2 unidades"); then, when the bot has just asked
    how many (`loose`), any number or number word ("una", "2", "two"); otherwise only one that follows a buying
    word ("me llevo dos", "I'll take one")."""
    if found:
        return found[0]
    match = (LOOSE_QUANTITY if loose else SOFT_QUANTITY).search(fold(text))
    if match is None:
        return None
    word = next(group for group in match.groups() if group)
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def read_city(text: str, asked: str | None, exclude: set[str] = frozenset()) -> str | None:
    """The city named in the message, title-cased as given ("ciudad de panamá" → "Ciudad de Panamá").

    Any message yields one after a shipping verb or "vivo en" ("envíala a David"). When the bot has just asked for
    the city (`asked` == "city"), a short answer is the city itself ("david", "a Colón"); right after it offered to
    take the order ("order_offer": its shipping answer ends "¿A qué ciudad la necesitas?") the answer must look
    like a name ("David", "a david"). Words that show it is not one (yes/no, thanks, question words, the product's
    or a shipping option's name: `exclude`) reject it."""
    match = CITY_IN_SENTENCE.search(text)
    if match:
        return _clean_city(match.group("city").split(), exclude)
    if asked not in ("city", "order_offer") or "?" in text:
        return None
    first = re.split(r"[,.;!\n]", text.strip(), maxsplit=1)[0].strip()
    answer = ANSWER_PREFIX.sub("", " " + first, count=1)
    if asked == "order_offer" and len(answer) >= len(first) and not answer[:1].isupper():
        return None
    return _clean_city(answer.split(), exclude, limit=4)


def _clean_city(words: list[str], exclude: set[str], limit: int = 5) -> str | None:
    kept: list[str] = []
    for word in words:
        if fold(word) in CITY_STOP:
            break
        kept.append(word)
    folded = [fold(w) for w in kept]
    if (not kept or len(kept) > limit or any(w in NOT_CITY or w in exclude for w in folded)
            or not all(re.fullmatch(r"[^\W\d_]+(?:['-][^\W\d_]+)*", w) for w in kept)
            or (len(kept) == 1 and folded[0] in SMALL_WORDS)):
        return None
    return title_city(" ".join(kept))


def title_city(city: str) -> str:
    words = city.split()
    return " ".join(w.lower() if i and w.lower() in SMALL_WORDS else w[:1].upper() + w[1:].lower()
                    for i, w in enumerate(words))


def coverage_cities(policies: dict[str, Any]) -> list[str] | None:
    """The cities the store ships to when the policies list them (`cities`, or `coverage` as a list); None when
    coverage is free text ("toda Panamá"): then any city the customer gives is accepted."""
    for value in (policies.get("cities"), policies.get("coverage")):
        if isinstance(value, list) and value:
            return [str(city) for city in value]
    return None


def covered_city(city: str, policies: dict[str, Any]) -> str | None:
    """The city as the store spells it if it ships there; the customer's spelling when any city goes."""
    listed = coverage_cities(policies)
    if listed is None:
        return city
    return next((name for name in listed if fold(name) == fold(city)), None)


def listed_city_in(text: str, policies: dict[str, Any]) -> str | None:
    """A city from the store's own list written anywhere in the message ("a Colón por favor")."""
    words = _words(text)
    for name in coverage_cities(policies) or []:
        if f" {_words(name)} " in f" {words} ":
            return name
    return None


def _words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(text)))


def match_shipping(text: str, options: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The shipping option the customer named, accents and case aside ("estandar", "standard", "la gratis")."""
    words = set(re.findall(r"[^\W_]+", fold(text)))
    for option in options:
        tokens = set(re.findall(r"[^\W_]+", fold(str(option.get("name", "")))))
        aliases = {alias for token in tokens for alias in SHIPPING_ALIASES.get(token, ())}
        if (tokens and tokens <= words) or aliases & words:
            return option
    free = [o for o in options if not o.get("price")]
    if len(free) == 1 and words & FREE_WORDS:
        return free[0]
    return None
