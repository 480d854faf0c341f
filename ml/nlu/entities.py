"""Entities in a customer message: products (matched against the catalog), quantities, money, dates, urgency
words, order numbers, emails and phone numbers, in Spanish and English."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from ml.nlu.dates import find_dates
from ml.nlu.lexicons import URGENCY
from ml.nlu.text import fold, matches
from ml.nlu.types import Entities

# Anchored and bounded: an unanchored `[\w.+-]+@` rescans a long word run from every position (quadratic).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
PHONE = re.compile(r"(?<![\w#])\+?\d[\d\s().-]{6,16}\d(?![\w%])")
# "#A1023", "pedido 45891", "order no. 1234": an order word needs 4+ digits (or "#" / "no."), so "order 200 units"
# stays a quantity.
ORDER = re.compile(
    r"(?:#\s?([A-Z]{0,4}-?\d{3,12})\b)|(?:\b(?:pedido|orden|order|factura|invoice|tracking|guia|ticket)"
    r"(?:\s+(?:n(?:o|ro|um(?:ber)?)?\.|#|numero|number))?\s*:?\s*#?\s*([A-Z]{0,4}-?\d{4,12}|[A-Z]{1,4}-?\d{3,12})\b"
    r"(?!\s+(?:unidades|units|cajas|boxes|piezas|pcs|pares|pairs)))",
    re.IGNORECASE,
)
# Digit runs are bounded and anchored so a flood of digits cannot make the match quadratic.
_AMOUNT = r"(?<![\d.,])(?:\d{1,3}(?:[.,]\d{3}){1,4}(?:[.,]\d{1,2})?|\d{1,9}(?:[.,]\d{1,2})?)(?![\d])"
MONEY = re.compile(
    r"(?:(?P<cur1>US\$|USD|B/\.|\$|€|EUR)\s?(?P<amt1>" + _AMOUNT + r"))"
    r"|(?:(?P<amt2>" + _AMOUNT + r")\s?(?P<cur2>dolares|dólares|dollars|usd|balboas|bucks|lucas|pesos|euros))",
    re.IGNORECASE,
)
NUMBER_WORDS = {"un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
                "ocho": 8, "nueve": 9, "diez": 10, "doce": 12, "veinte": 20, "cien": 100, "one": 1, "two": 2,
                "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                "twelve": 12, "twenty": 20, "hundred": 100, "docena": 12, "dozen": 12, "par": 2, "pair": 2}
# A number followed by a unit, or by a plural noun ("10 laptops", "tres sillas"); "iphone 15 hoy", "15 de
# diciembre" and "una empresa" are not quantities.
QUANTITY = re.compile(
    r"(?<![\w.,/-])(?:(\d{1,5})|(" + "|".join(NUMBER_WORDS) + r"))\s+(?:(?:de\s+)?(unidad(?:es)?|units?|pcs|piezas?|"
    r"cajas?|boxes?|pares?|pairs?|docenas?|dozens?)|([a-záéíóúñ]{3,}(?:s|es)))\b", re.IGNORECASE)
QUANTITY_VERB = re.compile(r"\b(?:quiero|necesito|ocupo|dame|mandame|send me|i need|i want|need|want)\s+(\d{1,5})\b",
                           re.IGNORECASE)
NOT_QUANTITY_UNITS = {"dias", "days", "horas", "hours", "semanas", "weeks", "meses", "months", "anos", "years",
                      "minutos", "minutes", "veces", "times", "dolares", "dollars", "balboas", "pesos", "euros",
                      "pulgadas", "inches", "mensajes", "messages", "cuotas", "pagos", "payments", "llamadas",
                      "calls", "correos", "emails", "personas", "people", "estrellas", "stars"}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DOTTED_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")


@dataclass(frozen=True, slots=True)
class CatalogProduct:
    sku: str
    name: str


def extract_entities(text: str, catalog: Sequence[CatalogProduct] = (), now: datetime | None = None,
                     language: str | None = None) -> Entities:
    folded = fold(text)
    taken: list[tuple[int, int]] = []  # spans already explained (emails, orders, money): never a phone too
    emails = []
    for match in (EMAIL.finditer(text) if "@" in text else ()):
        emails.append(match.group(0))
        taken.append(match.span())
    orders = []
    for match in ORDER.finditer(text):
        orders.append(match.group(1) or match.group(2))
        taken.append(match.span())
    money = []
    for match in MONEY.finditer(text):
        money.append({"amount": _amount(match.group("amt1") or match.group("amt2")),
                      "currency": _currency(match.group("cur1") or match.group("cur2"))})
        taken.append(match.span())
    phones = [match.group(0).strip() for match in PHONE.finditer(text)
              if sum(c.isdigit() for c in match.group(0)) >= 7 and not _overlaps(match.span(), taken)
              and not _looks_like_money_or_date(match.group(0))]
    years = {int(y) for y in re.findall(r"\b(19\d\d|20\d\d)\b", text)}
    return Entities(
        products=match_products(folded, catalog),
        quantities=[q for q in _quantities(text) if str(q) not in orders and q not in years],
        money=money,
        dates=_dates(text, now, language),
        urgency_words=[w for level in ("critical", "high", "medium") for w in matches(URGENCY[level], folded)],
        order_numbers=orders,
        emails=emails,
        phones=phones,
    )


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def _looks_like_money_or_date(candidate: str) -> bool:
    candidate = candidate.strip()
    return bool(re.fullmatch(r"\d{1,2}[/-]\d{1,2}([/-]\d{2,4})?", candidate) or ISO_DATE.fullmatch(candidate)
                or DOTTED_THOUSANDS.fullmatch(candidate))


def _amount(raw: str) -> float:
    """"1,250.50" and "1.250,50" are both 1250.5; "1,250" is 1250; "12,5" is 12.5."""
    raw = raw.replace(" ", "")
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", raw):
        return float(re.sub(r"[.,]", "", raw))
    if "," in raw and "." in raw:
        decimal = "." if raw.rfind(".") > raw.rfind(",") else ","
        thousands = "," if decimal == "." else "."
        return float(raw.replace(thousands, "").replace(decimal, "."))
    return float(raw.replace(",", "."))


def _currency(raw: str) -> str:
    raw = raw.lower()
    if raw in ("b/.", "balboas"):
        return "PAB"
    if raw in ("€", "eur", "euros"):
        return "EUR"
    if raw == "pesos":
        return "MXN"
    return "USD"


def _quantities(text: str) -> list[int]:
    found: list[int] = []
    for match in QUANTITY.finditer(text):
        number, word, unit, noun = match.group(1), match.group(2), match.group(3), match.group(4)
        if noun and fold(noun) in NOT_QUANTITY_UNITS:
            continue
        found.append(int(number) if number else NUMBER_WORDS[word.lower()])
    found += [int(m.group(1)) for m in QUANTITY_VERB.finditer(text)]
    return list(dict.fromkeys(q for q in found if 0 < q < 100_000))


def _dates(text: str, now: datetime | None, language: str | None) -> list[dict]:
    return find_dates(text, now, [language] if language in ("es", "en") else None)


@lru_cache(maxsize=8)
def _product_index(catalog: tuple[CatalogProduct, ...]) -> list[tuple[CatalogProduct, frozenset[str]]]:
    return [(product, frozenset(t for t in re.findall(r"\w+", fold(product.name)) if len(t) > 1))
            for product in catalog]


def match_products(folded: str, catalog: Sequence[CatalogProduct]) -> list[str]:
    """Catalog products whose name tokens appear in the message (all of a short name, most of a long one), or
    whose SKU is written out."""
    if not catalog:
        return []
    tokens = set(re.findall(r"\w+", folded))
    found = []
    for product, name_tokens in _product_index(tuple(catalog)):
        if not name_tokens:
            continue
        overlap = len(name_tokens & tokens)
        needed = len(name_tokens) if len(name_tokens) <= 2 else max(2, (len(name_tokens) + 1) // 2)
        if overlap >= needed or fold(product.sku) in tokens:
            found.append(product.sku)
    return found
