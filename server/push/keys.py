"""The server's VAPID key pair (RFC 8292): given by RELAIS_VAPID_PRIVATE_KEY, or generated once
into var/ (like the secret key) so subscriptions made by browsers survive restarts."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid, b64urlencode

from ..core.settings import Settings

KEY_FILE = "vapid_private_key.pem"


class BadVapidKey(ValueError):
    """RELAIS_VAPID_PRIVATE_KEY is not a P-256 private key."""


def load_vapid(settings: Settings) -> Vapid:
    """The key pair that signs every push request."""
    given = settings.vapid_private_key
    if given is None:
        return _load_or_create(settings.var_dir / KEY_FILE)
    try:
        if given.lstrip().startswith("-----BEGIN"):
            return Vapid.from_pem(given.encode())
        return Vapid.from_string(given.strip())
    except Exception as error:
        raise BadVapidKey(
            "RELAIS_VAPID_PRIVATE_KEY is not a P-256 private key (PEM, or the raw key in base64url)"
        ) from error


def _load_or_create(path: Path) -> Vapid:
    if path.exists():
        return Vapid.from_pem(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    vapid = Vapid()
    vapid.generate_keys()
    # Written aside then linked into place: several workers starting at once keep one key.
    draft = path.with_name(f"{path.name}.{os.getpid()}")
    draft.write_bytes(vapid.private_pem())
    draft.chmod(0o600)
    try:
        os.link(draft, path)
    except FileExistsError:
        vapid = Vapid.from_pem(path.read_bytes())
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()
    return vapid


def public_key(vapid: Vapid) -> str:
    """The public key as browsers take it (`applicationServerKey`): the uncompressed P-256
    point, base64url without padding."""
    point = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    encoded: str = b64urlencode(point)
    return encoded


def subject(settings: Settings) -> str:
    """Who runs this Relais, for the push services: RELAIS_VAPID_SUBJECT, else the public
    address, else a placeholder a demo can live with."""
    return settings.vapid_subject or settings.public_url or "mailto:relais@example.org"
