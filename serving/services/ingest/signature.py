"""Meta's X-Hub-Signature-256: `sha256=` + hex HMAC-SHA256 of the raw request body with the app secret."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """True when the header carries a valid signature for any configured secret (constant-time compare).

    Several secrets are allowed because Instagram-login apps sign with their own app secret.
    """
    if not header or not secrets:
        return False
    header = header.strip()
    if not header.lower().startswith(PREFIX):
        return False
    received = header[len(PREFIX):].lower().encode()
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        # Compare against every secret, so timing does not reveal which one matched.
        matched |= hmac.compare_digest(expected, received)
    return matched
