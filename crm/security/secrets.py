"""Encryption at rest for channel access tokens, keyed by CRM_SECRET_KEY (a Fernet key or any passphrase)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretKeyMissing(RuntimeError):
    """CRM_SECRET_KEY is needed to store or read channel tokens."""


def _fernet(secret_key: str | None) -> Fernet:
    if not secret_key:
        raise SecretKeyMissing("set CRM_SECRET_KEY to store channel access tokens")
    try:
        return Fernet(secret_key.encode())
    except ValueError:
        derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
        return Fernet(derived)


def encrypt_token(token: str, secret_key: str | None) -> bytes:
    return _fernet(secret_key).encrypt(token.encode())


def decrypt_token(blob: bytes, secret_key: str | None) -> str:
    try:
        return _fernet(secret_key).decrypt(blob).decode()
    except InvalidToken as exc:
        raise SecretKeyMissing("channel token cannot be decrypted with the current CRM_SECRET_KEY") from exc
