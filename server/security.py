"""Passwords (argon2id), random tokens stored only as hashes, and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(type=Type.ID)
# Verifying against this when the email is unknown keeps the timing the same (no user probing).
_DUMMY_HASH = _hasher.hash("relais-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """Tokens (sessions, API, displays) are stored as SHA-256: a leaked table grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_csrf_token(secret_key: str) -> str:
    """A random value signed with the server secret (double-submit cookie, not forgeable)."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_sign(secret_key, nonce)}"


def valid_csrf_token(secret_key: str, token: str | None) -> bool:
    if not token or "." not in token:
        return False
    nonce, signature = token.rsplit(".", 1)
    return hmac.compare_digest(signature, _sign(secret_key, nonce))


def csrf_matches(secret_key: str, cookie_token: str | None, submitted: str | None) -> bool:
    if not cookie_token or not submitted:
        return False
    return valid_csrf_token(secret_key, cookie_token) and hmac.compare_digest(
        cookie_token, submitted
    )


def _sign(secret_key: str, nonce: str) -> str:
    return hmac.new(secret_key.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]
