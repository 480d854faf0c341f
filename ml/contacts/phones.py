"""Phone numbers: one raw value in, E.164 and what phonenumbers knows about it out.

`parse_phone` is cached per (raw value, default region), so a frame with 100,000 rows pays for each distinct
raw phone once. Nothing here raises on bad input: an unparseable value comes back with `e164=None` and a
`problem` saying why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

DEFAULT_REGION = "PA"

# Labels people type in front of a number ("Cel:", "WhatsApp", "Tel.") and Spanish extension words that
# phonenumbers does not know ("anexo", "extensión", "int."), which become its "ext".
_LABEL = re.compile(
    r"^\s*(?:tel(?:[eé]fono)?|cel(?:ular)?|m[oó]vil|movil|whats?app|wa|fijo|casa|oficina|phone|mobile|cell)"
    r"\b\.?\s*:?\s*",
    re.IGNORECASE,
)
_EXTENSION_WORDS = re.compile(r"\b(?:anexo|extensi[oó]n|ext\.?|int\.?|interno)\s*", re.IGNORECASE)
# Several numbers in one field: "6123-4567 / 223-4567", "6123-4567 o 6987-6543".
_SEPARATORS = re.compile(r"\s*(?:[/;,|]|\s(?:o|y|or|and)\s)\s*", re.IGNORECASE)
# "011 507 ..." is the North American international prefix; Panama's is "00", which phonenumbers handles.
_NANP_INTL = re.compile(r"^\s*011[\s.-]*")
_LETTERS = re.compile(r"[^\W\d_]")


@dataclass(frozen=True, slots=True)
class ParsedPhone:
    """What one raw phone value turned out to be."""

    raw: str | None
    e164: str | None  # set only when the number is valid: nothing downstream should message a guess
    valid: bool
    possible: bool
    line_type: str | None  # phonenumbers' type in lower case: "mobile", "fixed_line", "voip", ...
    country_code: int | None  # the calling code, 507 for Panama
    region: str | None  # ISO 3166 alpha-2 of the number, "PA"
    extension: str | None
    has_letters: bool
    problem: str | None  # why e164 is None or the number is not valid; None when valid
    candidate_e164: str | None = None  # best-effort E.164 even when not valid (diagnostics, junk rules)


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, float):
        if math.isnan(raw):
            return None
        # Spreadsheets turn 61234567 into 61234567.0.
        return str(int(raw)) if raw.is_integer() else str(raw)
    if isinstance(raw, int):
        return str(raw)
    text = str(raw).strip()
    return text or None


def _prepare(text: str) -> str:
    text = _LABEL.sub("", text)
    text = _EXTENSION_WORDS.sub(" ext ", text)
    text = _NANP_INTL.sub("+", text)
    return text.strip()


def _number_part(text: str) -> str:
    """The text before an extension marker, to tell vanity letters from "ext"."""
    return re.split(r"\bext\b|\bx\s*\d|#", text, maxsplit=1, flags=re.IGNORECASE)[0]


def _line_type_name(number_type: int) -> str:
    return PhoneNumberType.to_string(number_type).lower()


def _parse_one(text: str, region: str) -> ParsedPhone | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    possible = phonenumbers.is_possible_number(number)
    valid = phonenumbers.is_valid_number(number)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    has_letters = bool(_LETTERS.search(_number_part(text)))
    problem = None
    if has_letters:
        # "6123-45O7" or "1-800-FLOWERS": phonenumbers may read letters as keypad digits; we do not trust it.
        valid = False
        problem = "letters in number"
    elif not valid:
        problem = "possible but not valid" if possible else "not a possible number"
    return ParsedPhone(
        raw=text,
        e164=e164 if valid else None,
        valid=valid,
        possible=possible,
        line_type=_line_type_name(phonenumbers.number_type(number)) if valid else None,
        country_code=number.country_code,
        region=phonenumbers.region_code_for_number(number) if valid else None,
        extension=number.extension or None,
        has_letters=has_letters,
        problem=problem,
        candidate_e164=None if has_letters else e164,
    )


def _empty(raw: str | None, problem: str) -> ParsedPhone:
    return ParsedPhone(raw, None, False, False, None, None, None, None, False, problem)


@lru_cache(maxsize=500_000)
def _parse_cached(text: str, region: str) -> ParsedPhone:
    candidates = [part for part in _SEPARATORS.split(text) if part.strip()] or [text]
    first: ParsedPhone | None = None
    for candidate in candidates:
        parsed = _parse_one(_prepare(candidate), region)
        if parsed is None:
            continue
        if parsed.valid:
            return replace(parsed, raw=text)
        first = first or parsed
    if first is None:
        return _empty(text, "not a phone number")
    return replace(first, raw=text)


def parse_phone(raw: object, default_region: str | None = DEFAULT_REGION) -> ParsedPhone:
    """Parse one raw phone value; numbers without a country prefix are read as `default_region`'s.

    Accepts "6123-4567", "+507 6123 4567", "00507 6123 4567", "(507) 6123-4567", "507-6123-4567",
    "Cel: 6123-4567 ext. 12", spreadsheet floats (61234567.0) and several numbers in one field (the first valid
    one wins, else the first that parses). Numbers whose digits contain letters are never valid.
    """
    text = _text(raw)
    if text is None:
        return _empty(None, "empty")
    region = (default_region or DEFAULT_REGION).upper()
    return _parse_cached(text, region)


def national_digits(e164: str | None) -> str | None:
    """The national significant number of an E.164 string ("+50761234567" → "61234567")."""
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    return phonenumbers.national_significant_number(number)
