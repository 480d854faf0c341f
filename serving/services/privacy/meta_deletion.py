"""Meta's data-deletion callback: when a person removes the app, Meta POSTs a `signed_request` (form field):
`<base64url HMAC-SHA256 signature>.<base64url JSON payload>`, signed with the app secret, whose payload names the
person's app-scoped `user_id`. We forget them and answer `{"url", "confirmation_code"}`; the URL is the public
status page Meta shows the person."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class BadSignedRequest(ValueError):
    """Not a signed request from Meta for this app (malformed, wrong algorithm, or a signature no secret makes)."""


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parse_signed_request(signed_request: str, app_secrets: list[str]) -> dict[str, Any]:
    try:
        signature_part, payload_part = signed_request.split(".", 1)
        signature = _b64url(signature_part)
        payload = json.loads(_b64url(payload_part))
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadSignedRequest("malformed signed_request") from exc
    if not isinstance(payload, dict) or str(payload.get("algorithm", "")).upper() != "HMAC-SHA256":
        raise BadSignedRequest("signed_request must use HMAC-SHA256")
    for secret in app_secrets:
        expected = hmac.new(secret.encode(), payload_part.encode(), hashlib.sha256).digest()
        if hmac.compare_digest(expected, signature):
            if not payload.get("user_id"):
                raise BadSignedRequest("signed_request names no user_id")
            return payload
    raise BadSignedRequest("signed_request signature does not match the app secret")


def sign_request(payload: dict[str, Any], app_secret: str) -> str:
    """What Meta sends (for tests and the demo)."""
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signature = hmac.new(app_secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode() + "." + body
