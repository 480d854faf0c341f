"""Tolerant readers for the fields real Meta senders vary: integer or string ids, epoch (s or ms) or ISO time."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

_MS_THRESHOLD = 10**11  # epoch values above this are milliseconds (Messenger / Instagram timestamps)


def as_id(value: Any) -> str | None:
    """Ids arrive as strings or integers; store them as text, never lose precision through float."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return pg_safe(str(value))


def as_time(value: Any) -> datetime | None:
    """Epoch seconds or milliseconds (int, float or numeric string), or ISO-8601 ("...+0000" included)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return _parse_iso(text)
    else:
        return None
    if number > _MS_THRESHOLD:
        number /= 1000.0
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_iso(text: str) -> datetime | None:
    candidate = text.replace("Z", "+00:00")
    # "+0000" (no colon) is what the Graph API prints; fromisoformat wants "+00:00".
    if len(candidate) > 5 and candidate[-5] in "+-" and candidate[-4:].isdigit():
        candidate = f"{candidate[:-2]}:{candidate[-2:]}"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def pg_safe(value: Any) -> Any:
    """What PostgreSQL and UTF-8 can hold: U+0000 dropped, lone surrogates (a truncated emoji's `\\ud83d`)
    replaced by U+FFFD. Applied to every string before it is stored."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        if not value.isascii() and _LONE_SURROGATE.search(value):
            value = _LONE_SURROGATE.sub("\ufffd", value)
        return value
    if isinstance(value, dict):
        return {pg_safe(k): pg_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pg_safe(v) for v in value]
    return value


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    return pg_safe(value)


def fingerprint(*parts: Any) -> str:
    """A stable key for events Meta sends without an id of their own (reactions, postbacks, referrals)."""
    try:
        blob = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # integers beyond 64 bits
        blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]
