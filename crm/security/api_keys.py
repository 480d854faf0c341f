"""API keys: `crm_<random>` shown once; only its SHA-256 is stored, so a leaked table leaks no key."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "crm_"

# What each scope may do, beyond its own name: admin may do everything.
SCOPE_IMPLIES: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "agent", "automation", "commerce", "read"}),
    "agent": frozenset({"agent", "read"}),
    "automation": frozenset({"automation", "read"}),
    "commerce": frozenset({"commerce", "read"}),
    "read": frozenset({"read"}),
}


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]


def scope_allows(granted: str, required: str) -> bool:
    return required in SCOPE_IMPLIES.get(granted, frozenset())
