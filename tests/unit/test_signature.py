"""X-Hub-Signature-256 verification over the raw body, as Meta documents it."""

from __future__ import annotations

import hashlib
import hmac

from serving.services.ingest.signature import sign, signature_matches

BODY = b'{"object":"page","entry":[]}'


def documented_signature(body: bytes, secret: str) -> str:
    """Meta's docs: sha256= followed by the HMAC-SHA256 hex digest of the payload, keyed with the app secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def test_valid_signature_matches() -> None:
    assert signature_matches(BODY, documented_signature(BODY, "s3cret"), ["s3cret"])
    assert sign(BODY, "s3cret") == documented_signature(BODY, "s3cret")


def test_any_of_several_secrets_may_match() -> None:
    header = documented_signature(BODY, "instagram-app-secret")
    assert signature_matches(BODY, header, ["facebook-app-secret", "instagram-app-secret"])


def test_uppercase_hex_and_whitespace_are_tolerated() -> None:
    header = documented_signature(BODY, "k").upper().replace("SHA256=", "sha256=")
    assert signature_matches(BODY, f" {header} ", ["k"])


def test_wrong_secret_missing_header_or_changed_body_fail() -> None:
    header = documented_signature(BODY, "right")
    assert not signature_matches(BODY, header, ["wrong"])
    assert not signature_matches(BODY, None, ["right"])
    assert not signature_matches(BODY, "", ["right"])
    assert not signature_matches(BODY + b" ", header, ["right"])
    assert not signature_matches(BODY, header.replace("sha256=", "sha1="), ["right"])
    assert not signature_matches(BODY, header, [])


def test_signature_is_over_raw_bytes_not_reserialized_json() -> None:
    spaced = b'{ "object": "page", "entry": [] }'
    assert not signature_matches(spaced, documented_signature(BODY, "k"), ["k"])
