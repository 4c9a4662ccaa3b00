"""Passwords (argon2id), random tokens stored only as hashes, signatures and CSRF tokens."""

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


def new_csrf_token(secret_key: str, binding: str = "") -> str:
    """A random value signed with the server secret and bound to the browser's sign-in
    (`binding`, see `web.context.session_binding`): a token taken from one session, or
    from an anonymous visit, is worth nothing in another."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_sign(secret_key, f'{nonce}|{binding}')}"


def valid_csrf_token(secret_key: str, token: str | None, binding: str = "") -> bool:
    if not token or "." not in token:
        return False
    nonce, signature = token.rsplit(".", 1)
    return hmac.compare_digest(signature, _sign(secret_key, f"{nonce}|{binding}"))


def csrf_matches(
    secret_key: str, cookie_token: str | None, submitted: str | None, binding: str = ""
) -> bool:
    if not cookie_token or not submitted:
        return False
    return valid_csrf_token(secret_key, cookie_token, binding) and hmac.compare_digest(
        cookie_token, submitted
    )


def sign(secret_key: str, message: str) -> str:
    """A short HMAC of `message` with the server secret (not forgeable without it)."""
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def signature_matches(secret_key: str, message: str, signature: str) -> bool:
    return hmac.compare_digest(signature, sign(secret_key, message))


_sign = sign
