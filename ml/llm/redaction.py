"""Contact details out of every text sent to an LLM provider, and back into its answer.

`redact` replaces phone numbers, emails, card numbers and street addresses with numbered placeholders
(`[PHONE_1]`, `[EMAIL_1]`, `[CARD_1]`, `[ADDRESS_1]`) and returns the mapping; the same value written twice
(even spelled differently: "6123-4567" and "+507 6123 4567") gets the same placeholder. `restore` puts the
values back into the model's answer and leaves placeholders it does not know as they are, so a caller can tell
an invented one (`leftover_placeholders`). Pure: no I/O, no settings; the region is an argument.

What is caught, and what is left alone on purpose (precision first: a false alarm hides a fact from the
model):
- phones: `phonenumbers`' matcher with the business region (Panama: "6123-4567", "223-4567", "61234567"), any
  "+<country>" number, and national numbers of a few other countries when written in groups ("55 1234 5678").
  Order / invoice / tracking numbers (a keyword or "#" right before), prices, quantities with a unit, dates
  and SKUs are not phones.
- emails: `local@domain.tld`.
- cards: 13 to 19 digits, together or in the usual groups (4-4-4-4, 4-6-5...) with one kind of separator, that
  pass the Luhn check (EANs and IMEIs pass it too: a number labelled as one is left alone).
- addresses, Spanish and English: a street word followed by a number or a capitalised name ("Calle 50 #23-45",
  "Av. Balboa", "Carrera 7 # 45-10", "123 Main St"), a building / flat / house / neighbourhood word with its
  name or number ("Edificio Los Pinos", "apto 5B", "casa 12", "barrio San Francisco", "PH Torre 2"), or a
  Colombian-style "#12-34", each extended over the parts that follow ("Av. Balboa, PH Torre 2, apto 5B").
  Lowercase street names ("la calle principal"), "carrera" without a number (a degree), "vía" before a
  lowercase word or a brand ("vía WhatsApp"), cities and postcodes are left alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

Kind = Literal["PHONE", "EMAIL", "CARD", "ADDRESS"]
KINDS: tuple[Kind, ...] = ("EMAIL", "CARD", "PHONE", "ADDRESS")  # where two overlap, the first kind wins
DEFAULT_REGION = "PA"  # settings.business_timezone is America/Panama
# National numbers of these countries are recognised only when written in groups ("55 1234 5678"): a bare
# run of ten digits is more often an order or a tracking number than a foreign phone.
OTHER_REGIONS = ("MX", "CO", "US")

PLACEHOLDER = re.compile(r"\[\s*(PHONE|EMAIL|CARD|ADDRESS)_(\d{1,4})\s*\]", re.IGNORECASE)

# --- phones ------------------------------------------------------------------------------------------------
_ID_WORDS = (r"pedido|orden|order|factura|invoice|recibo|receipt|ticket|caso|case|gu[ií]a|tracking|"
             r"rastreo|env[ií]o|shipment|ref|referencia|reference|sku|c[óo]digo|code|serial|serie|modelo|"
             r"model|lote|batch|transacci[óo]n|transaction|confirmaci[óo]n|confirmation|ean|upc|gtin|isbn|"
             r"imei")
_NOT_CONTACT_BEFORE = re.compile(
    rf"(?:(?i:\b(?:{_ID_WORDS}))\.?\s*(?i:n[º°o]\.?|nro\.?|num\.?|n[úu]mero|number|#)?\s*[:#]?\s*"
    r"|#\s*|(?:US)?[$€£]\s*|(?i:\b(?:USD|PAB|EUR))\s*|B/\.\s*)$")
_NOT_PHONE_AFTER = re.compile(
    r"^[ \t]*(?:%|(?i:unidades|unidad|units?|pcs|piezas|pzas?|cajas|boxes|usd|pab|d[óo]lares|dollars|balboas|"
    r"kg|gb|tb|mb|mah|km|horas?|hours?|d[ií]as?|days?)\b)")

# --- cards -------------------------------------------------------------------------------------------------
_CARD = re.compile(r"(?<![\w+.,/-])\d(?:[ -]?\d){12,18}(?![\w/]|[.,-]\d)")
_BARCODE_BEFORE = re.compile(r"(?i:\b(?:ean|upc|gtin|isbn|imei)\b)\s*[:#]?\s*$")
_CARD_GROUPS = {(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3),
                (4, 4, 5), (4, 4, 4, 5), (4, 4, 4, 6), (4, 4, 4, 7), (6, 13)}

# --- emails ------------------------------------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.+-])[\w][\w.+-]{0,63}@[^\W_](?:[\w-]{0,62})(?:\.[\w-]{1,63})*\.[^\W\d_]{2,24}"
                    r"(?![\w-])")

# --- addresses ---------------------------------------------------------------------------------------------
_UP, _LOW = "A-ZÁÉÍÓÚÑÜ", "a-záéíóúñü"
# Balboa, España, Main (no inner capitals: "WhatsApp" is not a street; "No" opens a house number)
_NAME = rf"(?!(?i:n[º°o]|nro|num|n[úu]mero)\b)[{_UP}][{_LOW}]+"
_ORD = r"(?:ra|da|ta|va|na|ma|er|st|nd|rd|th|º|°|[A-Za-z])"
_NUM = rf"\d{{1,5}}{_ORD}?(?![\w-])"  # 50, 50A, 5ta, 5B
_LINK = r"(?:de|del|la|las|los|el|y|of|the)"
_WORD = rf"(?:{_NUM}|{_NAME}|{_LINK}\s+{_NAME})"
_NAMED = rf"(?:{_NUM}|{_NAME})(?:\s+{_WORD}){{0,3}}"  # what follows a street or building word
_DESIGNATOR = (r"(?:#|(?i:n[º°o]\.?|nro\.?|n[úu]m(?:ero)?\.?)(?=\s?\d))\s?\d{1,5}[A-Za-z]?"
               r"(?:\s?-\s?\d{1,5}[A-Za-z]?)?(?![\w-])")
_STREET_ES = (
    rf"(?i:calle|c/|avenida|avda\.?|av\.?|ave\.)\s*(?<=[\s/.]){_NAMED}"
    rf"|(?i:carrera|cra\.?|kra\.?|transversal|diagonal|v[ií]a)\s+{_NUM}(?:\s+{_WORD}){{0,3}}"
    rf"|(?:V[íi]a|Paseo|Bulevar|Boulevard|Circunvalaci[óo]n)\s+{_NAMED}"
)
_SUFFIX_EN = (r"(?i:(?:street|avenue|road|boulevard|drive|lane|way|court|place|terrace|parkway|highway|circle)\b"
              r"|(?:st|ave|rd|blvd|dr|ln|ct|pl|ter|pkwy|hwy|cir)\b(?:\.(?=[ \t]*,?[ \t]*\w))?)")
_STREET_EN = (rf"\d{{1,6}}[A-Za-z]?\s+(?:(?:[NSEW]|North|South|East|West)\.?\s+)?"
              rf"(?:(?:{_NAME}|\d{{1,3}}{_ORD})\s+){{1,3}}{_SUFFIX_EN}")
_UNIT = (r"(?i:edificio|edif\.|torre|ph|p\.\s?h\.|apartamento|apto\.?|apt\.?|casa|local|piso|oficina|of\.|"
         r"suite|ste\.|unit|manzana|mz\.|lote|barrio|bo\.|urbanizaci[óo]n|urb\.|residencial|res\.|sector|"
         r"bloque)")
_STANDALONE = (
    rf"(?i:edificio|edif\.|barrio|urbanizaci[óo]n|urb\.|residencial)\s+{_NAMED}"
    rf"|(?i:apartamento|apto\.?|apt\.?|casa)\s*#?\s*(?=\d)\d{{1,5}}{_ORD}?(?![\w-])"
    rf"|(?:PH|P\.\s?H\.)\s+{_NAMED}"
    r"|#\s?\d{1,3}[A-Za-z]?\s?-\s?\d{2,3}(?![\w-])"
)
_CONTINUATION = (rf"(?:\s*,?\s*{_DESIGNATOR}"
                 rf"|(?:\s*,\s*|\s+){_UNIT}\s*(?<=[\s.])#?\s*{_NAMED}"
                 rf"|(?:\s*,\s*|\s+){_UNIT}\s*#\s*{_NUM})")
_ADDRESS = re.compile(rf"(?<![\w#/])(?:{_STREET_ES}|{_STREET_EN}|{_STANDALONE})(?:{_CONTINUATION})*")


@dataclass(frozen=True)
class Found:
    """One contact detail in a text: where it is, what it says, and the key two spellings of it share."""

    kind: Kind
    start: int
    end: int
    value: str
    key: str


@dataclass(frozen=True)
class Redacted:
    """The text with placeholders, and placeholder -> original value (what `restore` needs)."""

    text: str
    mapping: dict[str, str] = field(default_factory=dict)


def find(text: str, region: str = DEFAULT_REGION) -> list[Found]:
    """The contact details in `text`, in order, without overlaps (emails, then cards, phones, addresses)."""
    if not text:
        return []
    taken: list[Found] = []
    for found in (*_emails(text), *_cards(text), *_phones(text, region), *_addresses(text)):
        if not any(found.start < other.end and other.start < found.end for other in taken):
            taken.append(found)
    return sorted(taken, key=lambda f: f.start)


def redact(text: str, mapping: Mapping[str, str] | None = None, *, region: str = DEFAULT_REGION) -> Redacted:
    """`text` with every contact detail replaced by its placeholder. Pass the mapping of texts redacted before
    (the system prompt of the same request) to keep numbering and placeholders shared."""
    placeholders = dict(mapping or {})
    by_key = {_key_of(p, v, region): p for p, v in placeholders.items()}
    # Placeholder-looking text the customer typed keeps its number free, so `restore` never fills it in.
    counters = _counters([*placeholders, *(_canonical(m) for m in PLACEHOLDER.finditer(text or ""))])
    parts: list[str] = []
    position = 0
    for found in find(text or "", region):
        placeholder = by_key.get((found.kind, found.key))
        if placeholder is None:
            counters[found.kind] = counters.get(found.kind, 0) + 1
            placeholder = f"[{found.kind}_{counters[found.kind]}]"
            by_key[(found.kind, found.key)] = placeholder
            placeholders[placeholder] = found.value
        parts += [text[position:found.start], placeholder]
        position = found.end
    parts.append((text or "")[position:])
    return Redacted("".join(parts), placeholders)


def redact_all(texts: Iterable[str], *, region: str = DEFAULT_REGION) -> tuple[list[str], dict[str, str]]:
    """Several texts of one request with one shared mapping."""
    mapping: dict[str, str] = {}
    out = []
    for text in texts:
        redacted = redact(text, mapping, region=region)
        out.append(redacted.text)
        mapping = redacted.mapping
    return out, mapping


def restore(text: str, mapping: Mapping[str, str], *, escape: Callable[[str], str] | None = None) -> str:
    """The placeholders of `mapping` replaced by their values (`escape`d, e.g. for inside a JSON string);
    unknown placeholders stay as they are."""
    if not text or "[" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        original = mapping.get(_canonical(match))
        if original is None:
            return match.group(0)
        return escape(original) if escape is not None else original

    return PLACEHOLDER.sub(value, text)


def json_escape(value: str) -> str:
    """A value as it must be written inside a JSON string literal."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def placeholder_note(mapping: Mapping[str, str]) -> str:
    """A line for the system prompt: what the placeholders are and how to use them (never invent one)."""
    names = ", ".join(mapping)
    return (f"Datos de contacto ocultos / hidden contact details: {names}. Si necesitas mencionarlos, copia "
            "el marcador exactamente como está (con los corchetes); nunca inventes otros marcadores ni datos "
            "de contacto. / Copy a placeholder exactly if you need it; never invent placeholders or contact "
            "details.")


def leftover_placeholders(text: str) -> list[str]:
    """Placeholders still in a text (after `restore`: the ones the model invented), in order, once each."""
    return list(dict.fromkeys(_canonical(m) for m in PLACEHOLDER.finditer(text or "")))


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


# --- detectors ---------------------------------------------------------------------------------------------

def _emails(text: str) -> list[Found]:
    if "@" not in text:
        return []
    return [Found("EMAIL", m.start(), m.end(), m.group(0), m.group(0).casefold())
            for m in _EMAIL.finditer(text)]


def _cards(text: str) -> list[Found]:
    found = []
    for match in _CARD.finditer(text):
        raw = match.group(0)
        digits = re.sub(r"\D", "", raw)
        separators = set(re.findall(r"\D", raw))
        if len(separators) > 1 or not 13 <= len(digits) <= 19 or not luhn_valid(digits):
            continue
        if separators and tuple(len(g) for g in re.split(r"\D", raw)) not in _CARD_GROUPS:
            continue
        if _BARCODE_BEFORE.search(text[max(0, match.start() - 20):match.start()]):
            continue  # an EAN or an IMEI passes the Luhn check too; an order number rarely does: not excluded
        found.append(Found("CARD", match.start(), match.end(), raw, digits))
    return found


def _phones(text: str, region: str) -> list[Found]:
    if sum(c.isdigit() for c in text) < 7:
        return []
    found: dict[tuple[int, int], Found] = {}
    for index, current in enumerate(dict.fromkeys((region, *OTHER_REGIONS))):
        for match in PhoneNumberMatcher(text, current, leniency=Leniency.VALID):
            start, end, raw = match.start, match.end, match.raw_string
            if (start, end) in found:
                continue
            if index and not raw.lstrip().startswith("+") and not re.search(r"\d[\s().-]+\d", raw):
                continue  # another country's number written as one bare run of digits
            labelled = _NOT_CONTACT_BEFORE.search(text[max(0, start - 40):start])
            if not raw.startswith("+") and (labelled or _NOT_PHONE_AFTER.match(text[end:])):
                continue
            if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "-/_"):
                continue  # part of a code ("IPH15-128")
            key = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
            found[(start, end)] = Found("PHONE", start, end, raw, key)
    # A number right after a phone word ("cel 3001234567", "whatsapp 4155552671") is a phone in any country's
    # format, even one the matcher's regions do not know.
    for match in _CUED_PHONE.finditer(text):
        start, end = match.span("number")
        if not any(s <= start < e or start <= s < end for s, e in found):
            found[(start, end)] = Found("PHONE", start, end, match.group("number"),
                                        "+" + re.sub(r"\D", "", match.group("number")))
    return list(found.values())


_CUED_PHONE = re.compile(
    r"(?i)\b(?:cel(?:ular)?|m[oó]vil|whats?app|wsp|wa|tel(?:[eé]fono)?|ll[aá]m(?:a|e)me|n[uú]mero|phone|"
    r"mobile|call me(?: at| on)?|text me(?: at| on)?)\.?\s*(?:es|is|:|al|at|on)?\s*"
    r"(?P<number>\+?\d[\d\s().-]{5,18}\d)")


def _addresses(text: str) -> list[Found]:
    found = []
    for match in _ADDRESS.finditer(text):
        value = match.group(0).rstrip(" ,")
        key = " ".join(value.casefold().replace(",", " ").split())
        found.append(Found("ADDRESS", match.start(), match.start() + len(value), value, key))
    return found


# --- placeholders ------------------------------------------------------------------------------------------

def _canonical(match: re.Match[str]) -> str:
    return f"[{match.group(1).upper()}_{int(match.group(2))}]"


def _counters(placeholders: Iterable[str]) -> dict[str, int]:
    counters: dict[str, int] = {}
    for placeholder in placeholders:
        match = PLACEHOLDER.fullmatch(placeholder)
        if match:
            kind, number = match.group(1).upper(), int(match.group(2))
            counters[kind] = max(counters.get(kind, 0), number)
    return counters


def _key_of(placeholder: str, value: str, region: str) -> tuple[str, str]:
    """The (kind, key) of a value redacted before, so a later text reuses its placeholder."""
    match = PLACEHOLDER.fullmatch(placeholder)
    kind = match.group(1).upper() if match else ""
    found = [f for f in find(value, region) if f.kind == kind]
    if len(found) == 1 and found[0].value == value:
        return kind, found[0].key
    return kind, value
