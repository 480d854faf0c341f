"""The validator every reply passes: each money amount and stock figure it states must be one the catalog or the
policies hold. An LLM draft that fails is regenerated or replaced by the local responder.

`unsupported_figures` checks figures only (any reply). `check_draft` is the stricter check for LLM drafts; on top
of the figures it flags:
- SKUs listed by the model, or written in the text, that are not catalog SKUs;
- product names that start like a catalog name but leave it at a model token ("Dell XPS 15" when the catalog has
  the "Dell XPS 13", "iPhone 15 Pro", "Galaxy S24"), and brand-plus-model names made of words the catalog and the
  policies never use ("HP Pavilion 15");
- a catalog price written right after another product's name, and a catalog stock figure stated for the wrong
  product;
- delivery and other durations ("2 días", "24 horas") that neither the policies, the products nor the customer
  mention;
- contact details (phones, emails, card numbers, addresses: ml.llm.redaction) that neither the customer's words,
  the policies nor the products hold, and placeholders left over from redaction (`[PHONE_9]`, one the model
  made up), and any card number (the customer's own included). The customer's own phone, email and address,
  restored into the draft by the adapter ("te escribo a ana@x.com", "Calle 50 #23-45"), are allowed and blanked
  before the other checks, which would otherwise read "Calle 50" as an unknown model; the problems never quote
  a detail.

Limits, on purpose (a false alarm costs a regeneration or the local answer, so the checks stay conservative):
- "the catalog" is the products passed in (the ones searched for this turn): a real product outside them counts
  as unknown.
- A product name is recognised only when written with capitals or digits ("Dell XPS 15", "iPhone 16"); lowercase
  names ("una dell xps 15"), brand-only mentions ("Apple MacBook Air", no model token) and numbers in words
  ("dos días") are not checked.
- A price or stock figure is tied to a product only when it sits right after the name ("**Dell XPS 13** - $1,099"),
  or, for stock, when one product is named in its sentence or the last one named above it in the same
  paragraph; sentences naming several products are left to the membership check.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from ml.llm import redaction
from ml.nlu.text import fold
from serving.services.chat.facts import ProductFact

PRICE = re.compile(r"(?:US)?\$\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)")
STOCK = re.compile(r"(\d+)\s+(?:en stock|in stock|disponibles?|available|unidades disponibles)", re.IGNORECASE)
# Amounts written with a currency code or word instead of "$" ("USD 999", "999 dólares"), for LLM drafts.
_AMOUNT = r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
CODED_PRICE = re.compile(rf"(?:\b(?:USD|PAB)|B/\.)\s?{_AMOUNT}"
                         rf"|(?<![\w$.,]){_AMOUNT}\s?(?:USD|PAB|d[óo]lares|dollars|balboas)\b", re.IGNORECASE)
SKU_WRITTEN = re.compile(r"(?<![\w-])(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{2,}(?:-[A-Z0-9]+)+(?![\w-])")
SKU_LABELLED = re.compile(r"\b(?:sku|c[óo]digo|code|ref(?:erencia)?)\b\.?\s*[:#]?\s*([A-Za-z0-9][A-Za-z0-9-]{2,})",
                          re.IGNORECASE)
DURATION = re.compile(r"(?<![\d.,])(\d+(?:\s*(?:-|\u2013|a|to)\s*\d+)?)\s*"
                      r"(h|hrs?|horas?|hours?|d[ií]as?|days?|semanas?|weeks?|meses|mes|months?)(?!\w)",
                      re.IGNORECASE)
_UNITS = {"h": "h", "hr": "h", "hrs": "h", "hora": "h", "horas": "h", "hour": "h", "hours": "h", "dia": "d",
          "dias": "d", "day": "d", "days": "d", "semana": "w", "semanas": "w", "week": "w", "weeks": "w",
          "mes": "m", "meses": "m", "month": "m", "months": "m"}
# Words that make a different model of the same line ("iPhone 15" vs "iPhone 15 Pro").
MODEL_SUFFIXES = frozenset({"pro", "max", "plus", "ultra", "mini", "air", "lite"})
_TOKEN = re.compile(r"[^\W_]+(?:\.\d+)?")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)|\n")
_PARAGRAPH = re.compile(r"\n\s*\n")
# What may sit between a product's name and its price: "** - ", " (", " cuesta ", " for ".
_CONNECTOR = re.compile(r"[\s*_\-\u2013\u2014:(|]{0,8}(?:(?:cuesta|vale|a|por|en|at|for|costs?|is|es de|"
                        r"sale en|queda en|precio|price)[\s:]{1,3})?(?=(?:US)?\$)", re.IGNORECASE)
_SKIP_BACK = set(" \t*_•·-\u2013\u2014>#\"'\u201c\u201d«»([")


def stated_prices(text: str) -> set[Decimal]:
    return {Decimal(m.group(1).replace(",", "")) for m in PRICE.finditer(text)}


def stated_stock(text: str) -> set[int]:
    return {int(m.group(1)) for m in STOCK.finditer(text)}


def unsupported_figures(text: str, products: Sequence[ProductFact], policies: dict[str, Any],
                        allowed_amounts: Sequence[Decimal] = ()) -> list[str]:
    """The figures in `text` that no fact supports (empty means the reply is grounded). Budgets the customer
    stated themselves can be passed as `allowed_amounts`."""
    prices = {p.price for p in products} | {Decimal(str(o.get("price", 0))) for o in policies.get("shipping") or []}
    prices |= set(allowed_amounts)
    stocks = {p.stock for p in products}
    problems = [f"price {money_text} not in the catalog" for money_text in
                sorted(str(a) for a in stated_prices(text) if a not in prices)]
    problems += [f"stock {n} not in the catalog" for n in sorted(stated_stock(text) - stocks)]
    return problems


def check_draft(text: str, products_mentioned: Sequence[str], catalog_products: Sequence[ProductFact],
                policies: dict[str, Any], allowed_amounts: Sequence[Decimal] = (), *,
                customer_text: str = "") -> list[str]:
    """Everything in an LLM draft that the catalog and the policies do not support (empty: send it).

    `products_mentioned` are the SKUs the model listed; `customer_text` is what the customer wrote (durations they
    stated may be repeated back to them)."""
    catalog = KnownFacts(catalog_products, policies)
    text, problems = unsupported_contact_details(text, catalog_products, policies, customer_text)
    problems += unsupported_figures(text, catalog_products, policies, allowed_amounts)
    problems += _coded_prices(text, catalog_products, policies, allowed_amounts, problems)
    problems += [f"sku {sku} is not in the catalog" for sku in products_mentioned if not catalog.has_sku(sku)]
    problems += unknown_skus(text, catalog)
    problems += unknown_product_names(text, catalog)
    problems += misattributed_figures(text, catalog)
    problems += unsupported_durations(text, catalog, customer_text)
    return list(dict.fromkeys(problems))


_CONTACT_NAMES = {"PHONE": "phone number", "EMAIL": "email", "CARD": "card number", "ADDRESS": "address"}


def unsupported_contact_details(text: str, products: Sequence[ProductFact], policies: dict[str, Any],
                                customer_text: str = "") -> tuple[str, list[str]]:
    """The text with its contact details blanked (`[PHONE]`...), and the problems: details that neither the
    customer wrote nor the facts hold (an address counts when it is part of a known one or the other way
    round), and redaction placeholders nobody filled."""
    problems = [f"placeholder {p} stands for nothing" for p in redaction.leftover_placeholders(text)]
    found = redaction.find(text)
    if not found:
        return text, problems
    facts = " \n ".join([customer_text, *_strings(policies),
                         *(s for p in products for s in (p.name, p.description, *_strings(p.attributes)))])
    known = redaction.find(facts)
    parts, position = [], 0
    for item in found:
        if item.kind == "CARD":  # even the customer's own: a chat message is no place for a card number
            problems.append("a card number, which a reply never repeats")
        elif not any(_same_detail(item, other) for other in known):
            problems.append(f"{_CONTACT_NAMES[item.kind]} that neither the customer nor the policies gave")
        parts += [text[position:item.start], f"[{item.kind}]"]
        position = item.end
    parts.append(text[position:])
    return "".join(parts), list(dict.fromkeys(problems))


def _same_detail(stated: redaction.Found, known: redaction.Found) -> bool:
    if stated.kind != known.kind:
        return False
    if stated.kind == "ADDRESS":  # "Calle 50" for the customer's "Calle 50 #23-45"
        return stated.key in known.key or known.key in stated.key
    return stated.key == known.key


def unknown_skus(text: str, catalog: KnownFacts) -> list[str]:
    """SKU-shaped codes in the text that the catalog does not have: labelled ones ("SKU: X1-9") when they hold a
    digit or capitals, bare upper-case codes only when they start like a catalog SKU (so "USB-C" or "4G-LTE" are
    left alone)."""
    labelled = (m.group(1) for m in SKU_LABELLED.finditer(text))
    found = [code for code in labelled if any(c.isdigit() or c.isupper() for c in code)]
    found += [code for m in SKU_WRITTEN.finditer(text)
              if catalog.sku_prefix(code := m.group(0)) in catalog.sku_prefixes]
    return [f"sku {code} is not in the catalog" for code in dict.fromkeys(found) if not catalog.has_sku(code)]


def unknown_product_names(text: str, catalog: KnownFacts) -> list[str]:
    return [f'product or model "{mention.unknown}" is not in the catalog'
            for mention in _mentions(text, catalog) if mention.unknown]


def misattributed_figures(text: str, catalog: KnownFacts) -> list[str]:
    """Prices and stock stated for a product that are not that product's (even when another product's)."""
    mentions = _mentions(text, catalog)
    problems = []
    for mention in mentions:
        if len(mention.products) != 1 or mention.unknown:
            continue
        product = mention.products[0]
        connector = _CONNECTOR.match(text, mention.end)
        price = PRICE.match(text, connector.end()) if connector else None
        if price is not None:
            amount = Decimal(price.group(1).replace(",", ""))
            if amount != product.price:
                problems.append(f"price {amount} stated for {product.name} (catalog: {product.price})")
    for match in STOCK.finditer(text):
        stock = int(match.group(1))
        product = _product_for(match.start(), text, mentions)
        if product is not None and stock != product.stock:
            problems.append(f"stock {stock} stated for {product.name} (catalog: {product.stock})")
    return problems


def unsupported_durations(text: str, catalog: KnownFacts, customer_text: str = "") -> list[str]:
    allowed = catalog.durations | set(_durations(customer_text))
    ends = {(end, unit) for span, unit in allowed for end in span.split("-")}
    return [f"duration {span} {unit} is not in the policies" for span, unit in dict.fromkeys(_durations(text))
            if (span, unit) not in allowed and (span, unit) not in ends]


# --- the catalog, as the checks look at it ---------------------------------------------------------------------

class KnownFacts:
    """The products and policies a reply may state, indexed the way the checks read them (build once per turn)."""

    def __init__(self, products: Sequence[ProductFact], policies: dict[str, Any]) -> None:
        self.products = list(products)
        self.skus = {p.sku.upper() for p in self.products}
        self.sku_prefixes = {self.sku_prefix(p.sku) for p in self.products} - {""}
        self.names = [[fold(t) for t in _name_tokens(p.name)] for p in self.products]
        self.name_words = {word for name in self.names for word in name}
        self.vocab = [_vocabulary([p.name, p.description, p.category or "", *_strings(p.attributes)])
                      for p in self.products]
        policy_texts = list(_strings(policies))
        self.all_vocab = set().union(*self.vocab, _vocabulary(policy_texts))
        self.durations = set(_durations(" \n ".join([*policy_texts, *(p.description for p in self.products),
                                                     *(s for p in self.products for s in _strings(p.attributes))])))

    def has_sku(self, sku: str) -> bool:
        return sku.strip().upper() in self.skus

    @staticmethod
    def sku_prefix(code: str) -> str:
        """The leading letters of a SKU ("DELL" of DELL-XPS13), when there are at least two."""
        match = re.match(r"[A-Z]{2,}", code.upper())
        return match.group(0) if match else ""


@dataclass
class _Mention:
    start: int
    end: int  # where the part that matched a catalog name ends (prices written right after it belong to it)
    products: list[ProductFact]  # the catalog products whose name the mention matches (empty: none)
    unknown: str | None  # the mention's text when it names something the catalog does not have


def _mentions(text: str, catalog: KnownFacts) -> list[_Mention]:
    masked = CODED_PRICE.sub(_blank, SKU_WRITTEN.sub(_blank, text))  # codes and prices have their own checks
    return [mention for span in _spans(masked, catalog) if (mention := _read_span(span, text, catalog))]


def _blank(match: re.Match[str]) -> str:
    """Spaces as long as the match, so every offset into the text stays where it was."""
    return " " * len(match.group(0))


def _spans(text: str, catalog: KnownFacts) -> Iterator[list[re.Match[str]]]:
    """Runs of name-like words (capitalised, upper-case, letters with digits, and numbers after those) separated
    by single spaces or hyphens: "Dell XPS 13", "Galaxy S24 Ultra", "Wi-Fi 6"."""
    span: list[re.Match[str]] = []
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        joined = bool(span) and text[span[-1].end():match.start()] in (" ", "-", "/")
        if span and not joined:
            yield span
            span = []
        # A capital opening a sentence says nothing, unless the word is part of a catalog name.
        opening = (not span and _plain_capitalised(word) and fold(word) not in catalog.name_words
                   and _sentence_initial(text, match.start()))
        if (_name_like(word) and not opening) or (span and word.replace(".", "").isdigit()):
            span.append(match)
        elif span:
            yield span
            span = []
    if span:
        yield span


def _read_span(span: list[re.Match[str]], text: str, catalog: KnownFacts) -> _Mention | None:
    words = [fold(m.group(0)) for m in span]
    start, stop, matched = _best_match(words, catalog)
    if matched:
        products = [catalog.products[i] for i in matched]
        extra = words[:start] + words[stop:]  # "iPhone 15" around "Pro", "15" after "Dell XPS"
        vocab = set().union(*(catalog.vocab[i] for i in matched))
        unknown = any(_model_token(w) for w in extra) and any(w not in vocab for w in extra)
        return _Mention(span[start].start(), span[stop - 1].end(), products,
                        text[span[0].start():span[-1].end()] if unknown else None)
    if (len(span) >= 2 and any(any(c.isdigit() for c in w) for w in words)
            and any(any(c.isalpha() for c in w) for w in words) and any(w not in catalog.all_vocab for w in words)):
        return _Mention(span[0].start(), span[-1].end(), [], text[span[0].start():span[-1].end()])
    return None


def _best_match(words: list[str], catalog: KnownFacts) -> tuple[int, int, list[int]]:
    """The longest run of `words` with a word in it (not only numbers) found, in order and contiguous, in catalog
    names, with the indexes of those products; ties go to the earliest."""
    best: tuple[int, int, list[int]] = (0, 0, [])
    for start in range(len(words)):
        for stop in range(len(words), start, -1):
            if stop - start <= best[1] - best[0]:
                break
            run = words[start:stop]
            if all(word.replace(".", "").isdigit() for word in run):  # "15" alone names nothing
                continue
            matched = [i for i, name in enumerate(catalog.names) if _contains(name, run)]
            if matched:
                best = (start, stop, matched)
                break
    return best


def _contains(name: list[str], run: list[str]) -> bool:
    return any(name[i:i + len(run)] == run for i in range(len(name) - len(run) + 1))


def _product_for(position: int, text: str, mentions: list[_Mention]) -> ProductFact | None:
    """The one product a figure at `position` is about: the only one named in its sentence, else the last one
    named above it in its paragraph; None when that is ambiguous."""
    sentence = _bounds(_SENTENCE_END, text, position)
    near = [m for m in mentions if sentence[0] <= m.start < sentence[1]]
    if not near:
        paragraph = _bounds(_PARAGRAPH, text, position)
        near = [m for m in mentions if paragraph[0] <= m.start < position][-1:]
    if any(m.unknown or not m.products for m in near):
        return None
    named = {p.sku: p for m in near for p in m.products}
    return next(iter(named.values())) if len(named) == 1 else None


def _bounds(separator: re.Pattern[str], text: str, position: int) -> tuple[int, int]:
    start, end = 0, len(text)
    for match in separator.finditer(text):
        if match.end() <= position:
            start = match.end()
        elif match.start() >= position:
            end = match.start()
            break
    return start, end


# --- words and figures ---------------------------------------------------------------------------------------

def _name_tokens(name: str) -> list[str]:
    return _TOKEN.findall(name)


def _name_like(word: str) -> bool:
    has_digit, has_alpha = any(c.isdigit() for c in word), any(c.isalpha() for c in word)
    return word[0].isupper() or (has_digit and has_alpha) or any(c.isupper() for c in word[1:])


def _plain_capitalised(word: str) -> bool:
    return word[0].isupper() and word[1:].islower() if len(word) > 1 else word.isupper()


def _model_token(word: str) -> bool:
    return any(c.isdigit() for c in word) or word in MODEL_SUFFIXES


def _sentence_initial(text: str, start: int) -> bool:
    """Whether the word at `start` opens a sentence, a line or a list item (capitals there say nothing)."""
    i = start - 1
    while i >= 0:
        ch = text[i]
        if ch == "\n":
            return True
        if ch in _SKIP_BACK or unicodedata.category(ch) in ("So", "Sk", "Mn", "Me", "Cf"):
            i -= 1
            continue
        if ch.isdigit() and text[i + 1:i + 2] in ("\ufe0f", "\u20e3", ".", ")"):  # 1️⃣ / 1. / 1) list markers
            i -= 1
            continue
        return ch in ".!?¡¿:;…"
    return True


def _vocabulary(texts: Iterable[str]) -> set[str]:
    """Folded words of the texts, plus number+unit joined and split ("16 GB" ~ "16gb", "128GB" ~ "128" "gb")."""
    words: set[str] = set()
    for text in texts:
        tokens = [fold(t) for t in _TOKEN.findall(text)]
        words.update(tokens)
        words.update(a + b for a, b in pairwise(tokens) if a.isdigit() and b.isalpha())
        for token in tokens:
            words.update(re.findall(r"\d+|[^\W\d_]+", token))
    return words


def _strings(value: Any) -> Iterator[str]:
    """Every string (and number) inside a JSON-like value, keys excluded."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (int, float, Decimal)):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _strings(item)


def _durations(text: str) -> Iterator[tuple[str, str]]:
    for match in DURATION.finditer(fold(text)):
        span = re.sub(r"\s*(?:-|\u2013|a|to)\s*", "-", match.group(1).strip())
        yield span, _UNITS.get(match.group(2).lower(), match.group(2).lower())


def _coded_prices(text: str, products: Sequence[ProductFact], policies: dict[str, Any],
                  allowed_amounts: Sequence[Decimal], already: list[str]) -> list[str]:
    prices = {p.price for p in products} | set(allowed_amounts)
    prices |= {_decimal(o.get("price", 0)) for o in policies.get("shipping") or [] if isinstance(o, dict)}
    problems = []
    for match in CODED_PRICE.finditer(text):
        amount = _decimal((match.group(1) or match.group(2)).replace(",", ""))
        problem = f"price {amount} not in the catalog"
        if amount not in prices and problem not in already:
            problems.append(problem)
    return problems


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
