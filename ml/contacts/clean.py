"""contacts_clean (flow 19): one frame of raw contacts in, the same rows out with cleaned columns added.

Every input row is kept, in order, with its index and its original columns untouched; the cleaned values go
into new columns, so running `clean_contacts` on its own output gives the same frame (it re-reads the raw
columns). Junk and test records are flagged (`is_junk`, `junk_reasons`), never dropped.

Added columns
    phone_e164        E.164 when the phone is valid, else None
    phone_valid       bool
    phone_possible    bool (right length for its country, whether or not the range is assigned)
    phone_type        "mobile", "fixed_line", "fixed_line_or_mobile", "voip", ... (valid phones only)
    phone_country     ISO alpha-2 of the number ("PA"), valid phones only
    phone_extension   "12" for "6123-4567 ext. 12"
    email_normalized  stripped, lower-cased (local part too, see ml.contacts.emails); kept when not valid
    email_valid       bool, syntax only (no DNS)
    email_free        True for free-mail / consumer ISP, False for a company domain, <NA> without a domain
    email_domain      "gmail.com"
    email_suggestion  "juan@gmail.com" when the domain looks like a typo ("gmial.com"); never applied
    first_name_clean  given names, cased, accents kept
    last_name_clean   surnames
    country_code      ISO alpha-2 from the country field; when that is empty or unknown, from a valid phone
    country_source    "field", "phone" or None
    city_clean        canonical city ("Panamá", "David") or the typed city, cased
    reachable         a valid phone or a valid email
    is_junk           bool
    junk_reasons      ";"-joined reason names from ml.contacts.junk, "" when none (a string, not a list, so
                      the frame goes to Postgres / Parquet as is)

Phones are parsed with the row's country when it has one phonenumbers knows, else `default_region`; a number
that is not valid that way is tried with `default_region` too (a Panamanian mobile whose row says "España" is
still a Panamanian mobile). Parsing, email checks, names and places are cached per distinct raw value.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import phonenumbers

from ml.contacts import junk
from ml.contacts.emails import check_email
from ml.contacts.names import clean_name_parts, split_name
from ml.contacts.phones import DEFAULT_REGION, ParsedPhone, parse_phone
from ml.contacts.places import normalize_city, normalize_country

# Logical field → column names looked for, in order. Pass `columns=` to name them explicitly.
COLUMN_CANDIDATES: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "firstname", "nombre", "given_name"),
    "last_name": ("last_name", "lastname", "apellido", "apellidos", "surname", "family_name"),
    "full_name": ("full_name", "name", "display_name", "nombre_completo"),
    "phone": ("phone", "phone_raw", "phone_number", "telefono", "mobile", "celular", "whatsapp"),
    "email": ("email", "email_raw", "correo", "e_mail", "mail"),
    "country": ("country", "pais", "country_raw"),
    "city": ("city", "ciudad", "city_raw"),
}

OUTPUT_COLUMNS: tuple[str, ...] = (
    "phone_e164", "phone_valid", "phone_possible", "phone_type", "phone_country", "phone_extension",
    "email_normalized", "email_valid", "email_free", "email_domain", "email_suggestion",
    "first_name_clean", "last_name_clean", "country_code", "country_source", "city_clean", "reachable",
    "is_junk", "junk_reasons",
)

_PHONE_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


def resolve_columns(df: pd.DataFrame, columns: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Which input column holds each logical field (None when the frame has none)."""
    chosen: dict[str, str | None] = {}
    for field, candidates in COLUMN_CANDIDATES.items():
        if columns and field in columns:
            chosen[field] = columns[field] if columns[field] in df.columns else None
            continue
        chosen[field] = next((c for c in candidates if c in df.columns), None)
    return chosen


def _values(df: pd.DataFrame, column: str | None) -> list[object]:
    if column is None:
        return [None] * len(df)
    return df[column].astype(object).where(df[column].notna(), None).tolist()


def _map_unique(values: list[object], fn) -> list[object]:  # type: ignore[no-untyped-def]
    """fn applied once per distinct value (values must be hashable)."""
    cache: dict[object, object] = {}
    out = []
    for value in values:
        try:
            out.append(cache[value])
        except KeyError:
            result = cache[value] = fn(value)
            out.append(result)
    return out


def _parse_row_phone(raw: object, region: str | None, default_region: str) -> ParsedPhone:
    if region and region in _PHONE_REGIONS and region != default_region:
        parsed = parse_phone(raw, region)
        if parsed.valid:
            return parsed
    return parse_phone(raw, default_region)


def _national(parsed: ParsedPhone) -> str | None:
    if not parsed.candidate_e164 or parsed.country_code is None:
        return None
    return parsed.candidate_e164.removeprefix(f"+{parsed.country_code}")


def _joined_name(first: object, last: object, full: object) -> str | None:
    parts = [str(p).strip() for p in (first, last) if p is not None and str(p).strip()]
    if parts:
        return " ".join(parts)
    return str(full).strip() if full is not None and str(full).strip() else None


def clean_contacts(
    df: pd.DataFrame,
    default_region: str = DEFAULT_REGION,
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Clean a frame of raw contacts (see the module docstring for the columns it adds)."""
    default_region = default_region.upper()
    cols = resolve_columns(df, columns)
    out = df.copy()
    out = out.drop(columns=[c for c in OUTPUT_COLUMNS if c in out.columns])

    # Country first: it picks the region phones are read in and the city spellings that apply.
    country_raw = _values(df, cols["country"])
    country_from_field = _map_unique(country_raw, normalize_country)

    phone_raw = _values(df, cols["phone"])
    phones: list[ParsedPhone] = _map_unique(
        list(zip(phone_raw, country_from_field)),
        lambda pair: _parse_row_phone(pair[0], pair[1], default_region),
    )
    out["phone_e164"] = [p.e164 for p in phones]
    out["phone_valid"] = pd.array([p.valid for p in phones], dtype=bool)
    out["phone_possible"] = pd.array([p.possible for p in phones], dtype=bool)
    out["phone_type"] = [p.line_type for p in phones]
    out["phone_country"] = [p.region for p in phones]
    out["phone_extension"] = [p.extension for p in phones]

    email_raw = _values(df, cols["email"])
    emails = _map_unique(email_raw, check_email)
    out["email_normalized"] = [e.normalized for e in emails]
    out["email_valid"] = pd.array([e.valid for e in emails], dtype=bool)
    out["email_free"] = pd.array([e.free for e in emails], dtype="boolean")
    out["email_domain"] = [e.domain for e in emails]
    out["email_suggestion"] = [e.suggestion for e in emails]

    first_raw, last_raw = _values(df, cols["first_name"]), _values(df, cols["last_name"])
    full_raw = _values(df, cols["full_name"])
    name_keys = list(zip(first_raw, last_raw, full_raw))

    def _name(key: tuple[object, object, object]) -> tuple[str | None, str | None]:
        first, last, full = key
        cleaned = clean_name_parts(first, last)
        if cleaned == (None, None) and full is not None:
            cleaned = split_name(full)
        return cleaned

    names = _map_unique(name_keys, _name)
    out["first_name_clean"] = [n[0] for n in names]
    out["last_name_clean"] = [n[1] for n in names]

    country_code: list[str | None] = []
    country_source: list[str | None] = []
    for from_field, phone in zip(country_from_field, phones):
        if from_field:
            country_code.append(from_field)  # type: ignore[arg-type]
            country_source.append("field")
        elif phone.region:
            country_code.append(phone.region)
            country_source.append("phone")
        else:
            country_code.append(None)
            country_source.append(None)
    out["country_code"] = country_code
    out["country_source"] = country_source

    city_raw = _values(df, cols["city"])
    out["city_clean"] = _map_unique(list(zip(city_raw, country_code)), lambda pair: normalize_city(*pair))
    out["reachable"] = out["phone_valid"].to_numpy() | out["email_valid"].to_numpy()

    junk_names = _map_unique(
        [_joined_name(f, l, n) for f, l, n in name_keys], lambda name: junk.name_reasons(name)
    )
    junk_emails = _map_unique(
        [e.normalized if e.normalized else None for e in emails], lambda email: junk.email_reasons(email)
    )
    junk_phones = _map_unique(
        [(p.raw, _national(p)) for p in phones], lambda pair: junk.phone_reasons(*pair)
    )
    reasons = [
        ";".join(junk.combine((n, e, p))) for n, e, p in zip(junk_names, junk_emails, junk_phones)
    ]
    out["is_junk"] = pd.array([bool(r) for r in reasons], dtype=bool)
    out["junk_reasons"] = reasons
    return out
