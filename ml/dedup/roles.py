"""Field roles: how a column of each kind is normalised, compared (Splink comparison levels) and blocked on.

A role says what a column *is* (a first name, a phone number, a date...). From the role the engine derives

- a normaliser (pandas Series -> Series of ``str`` or ``None``), applied before anything is compared;
- the comparison levels of the Splink model, written as DuckDB SQL, most specific first, each with a prior
  m / u probability (used as EM's starting point, and as the model when a comparison cannot be trained);
- whether the column can be used in blocking rules, and whether it identifies a record on its own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable

import pandas as pd


class Role(StrEnum):
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    FULL_NAME = "full_name"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    STREET_NUMBER = "street_number"
    CITY = "city"
    POSTCODE = "postcode"
    STATE = "state"
    DATE = "date"
    NATIONAL_ID = "national_id"
    TEXT = "text"


ROLES: tuple[str, ...] = tuple(role.value for role in Role)


class UnknownRoleError(ValueError):
    """A field was given a role the engine does not know."""


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise UnknownRoleError(f"unknown role {value!r}; roles are: {', '.join(ROLES)}") from None


# --------------------------------------------------------------------------------------------- normalisers

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_NON_ALPHA = re.compile(r"[^a-z]+")
_NON_DIGIT = re.compile(r"\D+")

_ADDRESS_ABBREVIATIONS = {
    "st": "street", "str": "street", "rd": "road", "ave": "avenue", "av": "avenue", "dr": "drive",
    "cres": "crescent", "cr": "crescent", "pl": "place", "ct": "court", "cct": "circuit", "hwy": "highway",
    "blvd": "boulevard", "ln": "lane", "tce": "terrace", "pde": "parade", "sq": "square", "cl": "close",
    "apt": "apartment", "apmnt": "apartment", "n": "north", "s": "south", "e": "east", "w": "west",
}


def _ascii_lower(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower().strip()
    return text or None


def _clean(pattern: re.Pattern[str], value: object) -> str | None:
    text = _ascii_lower(value)
    if text is None:
        return None
    text = " ".join(pattern.sub(" ", text).split())
    return text or None


def normalise_text(value: object) -> str | None:
    return _clean(_NON_ALNUM, value)


def normalise_name(value: object) -> str | None:
    return _clean(_NON_ALPHA, value)


def normalise_code(value: object) -> str | None:
    """Postcodes, national ids, street numbers: letters and digits only, upper case."""
    text = _clean(_NON_ALNUM, value)
    return text.replace(" ", "").upper() if text else None


def normalise_address(value: object) -> str | None:
    text = normalise_text(value)
    if text is None:
        return None
    return " ".join(_ADDRESS_ABBREVIATIONS.get(token, token) for token in text.split())


def normalise_email(value: object) -> str | None:
    text = _ascii_lower(value)
    if text is None or "@" not in text:
        return None
    text = text.replace(" ", "")
    try:
        from email_validator import EmailNotValidError, validate_email

        return validate_email(text, check_deliverability=False).normalized.lower()
    except (EmailNotValidError, UnicodeError):
        return text


def make_phone_normaliser(region: str | None) -> Callable[[object], str | None]:
    """E.164 when phonenumbers can parse the number (with ``region`` for national numbers), else its digits."""
    import phonenumbers

    def normalise_phone(value: object) -> str | None:
        text = _ascii_lower(value)
        if text is None:
            return None
        try:
            number = phonenumbers.parse(text, region.upper() if region else None)
            if phonenumbers.is_possible_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
        digits = _NON_DIGIT.sub("", text)
        return digits if len(digits) >= 5 else None

    return normalise_phone


def normalise_date(value: object) -> str | None:
    """``YYYYMMDD``. Eight-digit strings are kept as typed (a typo'd date is still evidence); others parsed."""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y%m%d")
    text = _ascii_lower(value)
    if text is None:
        return None
    if re.fullmatch(r"\d{8}(\.0+)?", text):
        return text[:8]
    digits = _NON_DIGIT.sub("", text)
    if re.fullmatch(r"\d{4}\D\d{1,2}\D\d{1,2}", text):
        parsed = pd.to_datetime(text, errors="coerce", yearfirst=True)
    else:
        parsed = pd.to_datetime(text, errors="coerce", dayfirst=True)
    if parsed is None or pd.isna(parsed):
        return digits if len(digits) == 8 else None
    return parsed.strftime("%Y%m%d")


def sorted_tokens(value: str | None) -> str | None:
    return " ".join(sorted(value.split())) if value else None


# ------------------------------------------------------------------------------------ comparison levels


@dataclass(frozen=True)
class Level:
    """One comparison level: SQL over ``{l}`` / ``{r}`` (the column on each side), prior m and u."""

    label: str
    sql: str
    m: float
    u: float


def _jw(threshold: float) -> str:
    return f"jaro_winkler_similarity({{l}}, {{r}}) >= {threshold}"


def _dl(distance: int) -> str:
    return f"damerau_levenshtein({{l}}, {{r}}) <= {distance}"


EXACT = "{l} = {r}"

LEVELS: dict[Role, tuple[Level, ...]] = {
    Role.FIRST_NAME: (
        Level("exact", EXACT, 0.80, 0.01),
        Level("jaro-winkler >= 0.92", _jw(0.92), 0.10, 0.005),
        Level("jaro-winkler >= 0.80", _jw(0.80), 0.05, 0.03),
        Level("else", "ELSE", 0.05, 0.955),
    ),
    Role.LAST_NAME: (
        Level("exact", EXACT, 0.80, 0.005),
        Level("jaro-winkler >= 0.92", _jw(0.92), 0.10, 0.003),
        Level("jaro-winkler >= 0.80", _jw(0.80), 0.05, 0.02),
        Level("else", "ELSE", 0.05, 0.972),
    ),
    Role.FULL_NAME: (
        Level("exact", EXACT, 0.75, 0.001),
        Level("same words, any order", "{l}__tokens = {r}__tokens", 0.08, 0.0005),
        Level("jaro-winkler >= 0.92", _jw(0.92), 0.08, 0.002),
        Level("words jaro-winkler >= 0.85", "jaro_winkler_similarity({l}__tokens, {r}__tokens) >= 0.85", 0.05,
              0.02),
        Level("else", "ELSE", 0.02, 0.9765),
    ),
    Role.PHONE: (
        Level("exact", EXACT, 0.85, 0.0001),
        Level("same last 8 digits", "length({l}) >= 8 AND right({l}, 8) = right({r}, 8)", 0.05, 0.0001),
        Level("one edit", _dl(1), 0.05, 0.001),
        Level("else", "ELSE", 0.05, 0.9988),
    ),
    Role.EMAIL: (
        Level("exact", EXACT, 0.85, 0.0001),
        Level("same user name", "split_part({l}, '@', 1) = split_part({r}, '@', 1)", 0.05, 0.0005),
        Level("one edit", _dl(1), 0.05, 0.0001),
        Level("user name jaro-winkler >= 0.88",
              "jaro_winkler_similarity(split_part({l}, '@', 1), split_part({r}, '@', 1)) >= 0.88", 0.03, 0.005),
        Level("else", "ELSE", 0.02, 0.9943),
    ),
    Role.ADDRESS: (
        Level("exact", EXACT, 0.75, 0.001),
        Level("jaro-winkler >= 0.92", _jw(0.92), 0.10, 0.005),
        Level("jaro-winkler >= 0.80", _jw(0.80), 0.05, 0.05),
        Level("else", "ELSE", 0.10, 0.944),
    ),
    Role.STREET_NUMBER: (
        Level("exact", EXACT, 0.85, 0.02),
        Level("one edit", _dl(1), 0.08, 0.10),
        Level("else", "ELSE", 0.07, 0.88),
    ),
    Role.CITY: (
        Level("exact", EXACT, 0.80, 0.01),
        Level("jaro-winkler >= 0.92", _jw(0.92), 0.10, 0.005),
        Level("jaro-winkler >= 0.80", _jw(0.80), 0.05, 0.05),
        Level("else", "ELSE", 0.05, 0.935),
    ),
    Role.POSTCODE: (
        Level("exact", EXACT, 0.85, 0.002),
        Level("one edit", _dl(1), 0.08, 0.02),
        Level("same first 3", "length({l}) > 3 AND left({l}, 3) = left({r}, 3)", 0.03, 0.05),
        Level("else", "ELSE", 0.04, 0.928),
    ),
    Role.STATE: (
        Level("exact", EXACT, 0.90, 0.20),
        Level("else", "ELSE", 0.10, 0.80),
    ),
    Role.DATE: (
        Level("exact", EXACT, 0.85, 0.001),
        Level("one edit", _dl(1), 0.08, 0.005),
        Level("day and month swapped",
              "left({l}, 4) = left({r}, 4) AND substr({l}, 5, 2) = substr({r}, 7, 2) "
              "AND substr({l}, 7, 2) = substr({r}, 5, 2)", 0.02, 0.0001),
        Level("within a year",
              "abs(date_diff('day', try_strptime({l}, '%Y%m%d'), try_strptime({r}, '%Y%m%d'))) <= 366", 0.02, 0.01),
        Level("else", "ELSE", 0.03, 0.9829),
    ),
    Role.NATIONAL_ID: (
        Level("exact", EXACT, 0.85, 0.00001),
        Level("one edit", _dl(1), 0.08, 0.0005),
        Level("two edits", _dl(2), 0.03, 0.005),
        Level("else", "ELSE", 0.04, 0.99449),
    ),
    Role.TEXT: (
        Level("exact", EXACT, 0.70, 0.01),
        Level("jaro-winkler >= 0.90", _jw(0.90), 0.15, 0.01),
        Level("jaro-winkler >= 0.70", _jw(0.70), 0.10, 0.10),
        Level("else", "ELSE", 0.05, 0.88),
    ),
}

# Joint first + last name comparison, used when the input has exactly one column of each: it sees swapped names.
# Placeholders {fl} {fr} {ll} {lr}: first name left/right, last name left/right.
PERSON_NAME_LEVELS: tuple[Level, ...] = (
    Level("first and last exact", "{fl} = {fr} AND {ll} = {lr}", 0.65, 0.00005),
    Level("first and last swapped", "{fl} = {lr} AND {ll} = {fr}", 0.03, 0.000001),
    Level("last exact, first similar",
          "{ll} = {lr} AND jaro_winkler_similarity({fl}, {fr}) >= 0.88", 0.08, 0.0001),
    Level("first exact, last similar",
          "{fl} = {fr} AND jaro_winkler_similarity({ll}, {lr}) >= 0.88", 0.08, 0.0001),
    Level("both similar",
          "jaro_winkler_similarity({fl}, {fr}) >= 0.88 AND jaro_winkler_similarity({ll}, {lr}) >= 0.88", 0.04,
          0.0005),
    Level("last exact", "{ll} = {lr}", 0.04, 0.005),
    Level("first exact", "{fl} = {fr}", 0.03, 0.01),
    Level("last similar", "jaro_winkler_similarity({ll}, {lr}) >= 0.88", 0.02, 0.01),
    Level("else", "ELSE", 0.03, 0.97434),
)


# ------------------------------------------------------------------------------------------ role metadata


@dataclass(frozen=True)
class RoleSpec:
    role: Role
    normalise: Callable[[object], str | None]
    blockable: bool = True
    identifier: bool = False  # identifies a record alone (blocks alone; a deterministic-link candidate)
    derived: tuple[str, ...] = field(default_factory=tuple)  # suffixes of extra columns it needs


def role_spec(role: Role, *, phone_region: str | None = None) -> RoleSpec:
    match role:
        case Role.FIRST_NAME | Role.LAST_NAME:
            return RoleSpec(role, normalise_name)
        case Role.FULL_NAME:
            return RoleSpec(role, normalise_name, identifier=False, derived=("__tokens",))
        case Role.PHONE:
            return RoleSpec(role, make_phone_normaliser(phone_region), identifier=True)
        case Role.EMAIL:
            return RoleSpec(role, normalise_email, identifier=True)
        case Role.NATIONAL_ID:
            return RoleSpec(role, normalise_code, identifier=True)
        case Role.ADDRESS:
            return RoleSpec(role, normalise_address)
        case Role.STREET_NUMBER | Role.POSTCODE:
            return RoleSpec(role, normalise_code)
        case Role.CITY:
            return RoleSpec(role, normalise_text)
        case Role.STATE:
            return RoleSpec(role, normalise_text, blockable=False)
        case Role.DATE:
            return RoleSpec(role, normalise_date)
        case Role.TEXT:
            return RoleSpec(role, normalise_text, blockable=False)
    raise UnknownRoleError(str(role))  # pragma: no cover - StrEnum is exhaustive
