"""Junk and test records: flagged with reasons, never dropped.

Each field gets its own reasons (cached per distinct value), and a record's reasons are their union. Reason names are stable strings, meant to be
filtered on downstream:

name   test_name               a test word as a whole word: "test", "prueba", "demo", "fake", "asdf" ...
       placeholder_name        the whole name is a placeholder: "n/a", "sin nombre", "cliente", "unknown"
       keyboard_mash_name      four keyboard-adjacent keys in a row ("asdf", "qwer", "hjkl"), a letter four
                               times in a row, a word of five or more letters without a vowel, "jajaja"
       one_letter_name         the whole name is one letter ("x", "A.")
       digits_in_name          digits where a name should be ("Juan 123", "cliente2")
email  test_email              the local part is a test word ("test@", "prueba123@", "asdf@")
       placeholder_email       nobody's address: example.com / test.com / *.test, "sincorreo@", "notiene@"
       disposable_email        a throw-away inbox (mailinator.com, yopmail.com, ...)
       keyboard_mash_email     the local part is a keyboard mash
phone  repeated_digits_phone   one digit repeated (00000000, 6666-6666) or a digit then zeros (6000-0000)
       sequential_digits_phone 12345678, 87654321, 1234567
       test_phone              a test word or keyboard mash typed into the phone field

A record with no name, email or phone is not junk by itself (an Instagram contact may only have its scoped
id); `clean_contacts` reports reachability separately.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from ml.contacts.emails import DISPOSABLE_EMAIL_DOMAINS, FREE_EMAIL_DOMAINS

REASONS: tuple[str, ...] = (
    "test_name", "placeholder_name", "keyboard_mash_name", "one_letter_name", "digits_in_name",
    "test_email", "placeholder_email", "disposable_email", "keyboard_mash_email",
    "repeated_digits_phone", "sequential_digits_phone", "test_phone",
)
_ORDER = {reason: i for i, reason in enumerate(REASONS)}

TEST_WORDS: frozenset[str] = frozenset(
    {
        "test", "tests", "testing", "testeo", "prueba", "pruebas", "probando", "demo", "dummy", "fake", "falso",
        "ficticio", "asdf", "qwerty", "lorem", "ipsum", "xxx", "xxxx", "zzz", "foo", "foobar", "borrar",
        "eliminar", "deleteme",
    }
)
PLACEHOLDER_NAMES: frozenset[str] = frozenset(
    {
        "n a", "na", "n d", "nd", "null", "none", "nil", "nan", "unknown", "desconocido", "desconocida",
        "sin nombre", "no name", "noname", "no tiene", "ninguno", "ninguna", "nadie", "nombre", "apellido",
        "nombre apellido", "cliente", "cliente nuevo", "usuario", "user", "customer", "anonimo", "anonima",
        "anonymous", "x", "xx", "no", "si", "ok", "hola", "whatsapp user",
    }
)
PLACEHOLDER_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "example.com", "example.org", "example.net", "test.com", "test.net", "test.org", "prueba.com",
        "pruebas.com", "correo.com", "email.test", "noemail.com", "nomail.com", "sincorreo.com", "notiene.com",
        "no.com", "ninguno.com", "nada.com", "none.com", "fake.com", "asdf.com", "xxx.com", "dominio.com",
        "tudominio.com", "empresa.com", "mail.test",
    }
)
_PLACEHOLDER_TLDS = (".test", ".example", ".invalid", ".localhost", ".local")
_PLACEHOLDER_LOCAL = re.compile(
    r"^(?:no[._-]?reply|no[._-]?responder|sin[._-]?correo|sin[._-]?email|no[._-]?tiene|no[._-]?correo|"
    r"no[._-]?email|no[._-]?mail|ninguno|ninguna|nada|none|null|na|nd|n[._-]?a|tu[._-]?correo|su[._-]?correo)\d*$"
)
# Generic words that are someone's real role address at a company ("correo@empresa.com.pa") but nobody's at a
# free-mail provider ("correo@gmail.com").
_PLACEHOLDER_FREE_LOCAL = re.compile(r"^(?:correo|email|mail|nombre|usuario|user|cliente)\d*$")
_TEST_LOCAL = re.compile(r"^(?:" + "|".join(sorted(TEST_WORDS, key=len, reverse=True)) + r")[\d._+-]*$")

_ROWS = ("qwertyuiop", "asdfghjklñ", "zxcvbnm", "1234567890")
_RUNS: frozenset[str] = frozenset(
    row[i : i + 4][::direction] for row in _ROWS for i in range(len(row) - 3) for direction in (1, -1)
)
_VOWELS = set("aeiouyáéíóúü")
_WORD = re.compile(r"[^\W\d_]+")


def fold(text: str) -> str:
    """Lower case without accents, ñ kept (it has its own key on Spanish keyboards)."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch) or ch == "\u0303")
    return unicodedata.normalize("NFC", kept).lower()


def _text(raw: object) -> str | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    text = str(raw).strip()
    return text or None


def is_keyboard_mash(word: str) -> bool:
    """"asdf", "qwerty", "hjkl", "zzzz", "xkcdq", "jajaja", "sdfsdf": typed to get past a form."""
    word = word.lower()
    letters = "".join(ch for ch in word if ch.isalpha())
    if len(letters) < 4:
        return False
    if any(letters[i : i + 4] in _RUNS for i in range(len(letters) - 3)):
        return True
    if re.search(r"(.)\1\1\1", letters):
        return True
    if len(letters) >= 5 and not _VOWELS.intersection(fold(letters)):
        return True
    # The same one to three letters over and over: "jajaja", "asasas", "sdfsdf".
    return len(letters) >= 6 and re.fullmatch(r"(.{1,3})\1{1,}", letters) is not None and len(set(letters)) <= 3


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(fold(text))]


@lru_cache(maxsize=200_000)
def name_reasons(raw: str | None) -> tuple[str, ...]:
    """Reasons a full name (or any name field) looks like junk; () when it looks like a person's name."""
    text = _text(raw)
    if text is None:
        return ()
    reasons: list[str] = []
    words = _words(text)
    joined = " ".join(words)
    if TEST_WORDS.intersection(words):
        reasons.append("test_name")
    if joined in PLACEHOLDER_NAMES or fold(text).strip() in {"n/a", "n.a.", "-", "--", "."}:
        reasons.append("placeholder_name")
    if any(is_keyboard_mash(w) for w in words if w not in TEST_WORDS):
        reasons.append("keyboard_mash_name")
    if len(joined.replace(" ", "")) == 1:
        reasons.append("one_letter_name")
    if any(ch.isdigit() for ch in text):
        reasons.append("digits_in_name")
    return tuple(reasons)


@lru_cache(maxsize=200_000)
def email_reasons(raw: str | None) -> tuple[str, ...]:
    """Reasons an email (raw or normalized) looks like a test or placeholder address."""
    text = _text(raw)
    if text is None:
        return ()
    local, _, domain = text.lower().strip("<>\"' ").rpartition("@")
    if not _:
        local, domain = text.lower(), ""
    reasons: list[str] = []
    if _TEST_LOCAL.match(local):
        reasons.append("test_email")
    if (
        domain in PLACEHOLDER_EMAIL_DOMAINS
        or domain.endswith(_PLACEHOLDER_TLDS)
        or _PLACEHOLDER_LOCAL.match(local)
        or (domain in FREE_EMAIL_DOMAINS and _PLACEHOLDER_FREE_LOCAL.match(local))
    ):
        reasons.append("placeholder_email")
    if domain in DISPOSABLE_EMAIL_DOMAINS:
        reasons.append("disposable_email")
    if "test_email" not in reasons and local and any(is_keyboard_mash(w) for w in _WORD.findall(local)):
        reasons.append("keyboard_mash_email")
    return tuple(reasons)


def _digits_reasons(digits: str) -> tuple[str, ...]:
    if len(digits) < 6:
        return ()
    if len(set(digits)) == 1 or len(set(digits[1:])) == 1 and digits[1] == "0":
        return ("repeated_digits_phone",)
    steps = {(int(b) - int(a)) % 10 for a, b in zip(digits, digits[1:])}
    if steps in ({1}, {9}):
        return ("sequential_digits_phone",)
    return ()


@lru_cache(maxsize=200_000)
def phone_reasons(raw: str | None, national_number: str | None = None) -> tuple[str, ...]:
    """Reasons a phone looks made up. `national_number` is the digits after the country code when the phone
    parsed ("61234567" for +507 6123-4567); without it the raw digits are judged."""
    text = _text(raw)
    if text is None:
        return ()
    words = _words(text)
    if TEST_WORDS.intersection(words) or any(is_keyboard_mash(w) for w in words if len(w) >= 4):
        return ("test_phone",)
    digits = national_number or re.sub(r"\D", "", text)
    return _digits_reasons(digits)


def combine(reason_groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """One record's reasons, deduplicated, in the fixed order of REASONS."""
    return tuple(sorted({r for group in reason_groups for r in group}, key=lambda r: _ORDER.get(r, len(_ORDER))))


def record_reasons(
    *,
    name: object = None,
    email: object = None,
    phone: object = None,
    national_number: str | None = None,
) -> tuple[str, ...]:
    """All junk reasons of one record (name = the full name as typed, or first and last joined)."""
    name_text, email_text, phone_text = _text(name), _text(email), _text(phone)
    return combine([name_reasons(name_text), email_reasons(email_text), phone_reasons(phone_text, national_number)])
