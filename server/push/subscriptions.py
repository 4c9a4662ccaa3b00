"""The browsers that asked to be told with the phone locked: checking what a browser sends
(`PushSubscription.toJSON()`), keeping one subscription per sign-in, and finding whom a step
of a pickup is sent to."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.i18n import _
from ..core.models import Child, ChildGuardian, Pickup, PushSubscription, SignInSession
from .notices import PREPARING

MAX_ENDPOINT = 1000
# A parent with more phones and browsers than this keeps the newest.
MAX_PER_GUARDIAN = 10
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class BadSubscription(ValueError):
    """What a browser sent is not a push subscription Relais can use (the message says why)."""


@dataclass(frozen=True)
class NewSubscription:
    endpoint: str
    p256dh: str
    auth: str
    preparing: bool


@dataclass(frozen=True)
class Target:
    """One browser a notice goes to, with what its payload says."""

    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str
    locale: str
    first_name: str

    def as_subscription_info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _decoded(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not 0 < len(value) <= 100:
        raise BadSubscription(_("The subscription's {key} key is missing.").format(key=name))
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise BadSubscription(
            _("The subscription's {key} key is not base64url.").format(key=name)
        ) from None


def check_endpoint(endpoint: object, *, demo: bool) -> str:
    """A push service's address: https (in a demo also http on this machine, so a local push
    service can stand in), never a private address of the server's own network."""
    if not isinstance(endpoint, str) or not endpoint:
        raise BadSubscription(_("The subscription has no endpoint."))
    if len(endpoint) > MAX_ENDPOINT:
        raise BadSubscription(_("The subscription's endpoint is too long."))
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    local = host in LOCAL_HOSTS
    if parts.scheme == "http" and demo and local:
        return endpoint
    if parts.scheme != "https" or not host:
        raise BadSubscription(_("The subscription's endpoint must be an https:// address."))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if not demo and (local or (address is not None and not address.is_global)):
        # Relais would otherwise post to whatever a parent names inside its own network.
        raise BadSubscription(_("The subscription's endpoint is not a push service."))
    return endpoint


def parse(body: object, *, demo: bool) -> NewSubscription:
    """`PushSubscription.toJSON()` (`{"endpoint", "keys": {"p256dh", "auth"}}`, its
    `expirationTime` ignored), with an optional `"preparing": true|false`."""
    if not isinstance(body, dict):
        raise BadSubscription(_("Send the subscription as a JSON object."))
    endpoint = check_endpoint(body.get("endpoint"), demo=demo)
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise BadSubscription(_("The subscription's keys are missing."))
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    point = _decoded(p256dh, "p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise BadSubscription(
            _("The subscription's p256dh key is not a P-256 public key.")
        ) from None
    if len(_decoded(auth, "auth")) != 16:
        raise BadSubscription(_("The subscription's auth key must be 16 bytes."))
    preparing = body.get("preparing", False)
    if not isinstance(preparing, bool):
        raise BadSubscription(_("“preparing” must be true or false."))
    assert isinstance(p256dh, str) and isinstance(auth, str)
    return NewSubscription(endpoint, p256dh, auth, preparing)


async def save(
    session: AsyncSession,
    new: NewSubscription,
    *,
    guardian_id: int,
    session_hash: str,
    locale: str,
    now: datetime,
) -> PushSubscription:
    """This browser's subscription for this sign-in, in the caller's transaction: it replaces
    the sign-in's earlier one and any other row for the same browser (another parent who
    signed in on it before)."""
    await session.execute(
        delete(PushSubscription).where(
            (col(PushSubscription.endpoint) == new.endpoint)
            | (col(PushSubscription.session_hash) == session_hash)
        )
    )
    row = PushSubscription(
        guardian_id=guardian_id,
        session_hash=session_hash,
        endpoint=new.endpoint,
        p256dh=new.p256dh,
        auth=new.auth,
        locale=locale,
        preparing=new.preparing,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    kept = select(col(PushSubscription.id)).where(col(PushSubscription.guardian_id) == guardian_id)
    newest = kept.order_by(col(PushSubscription.id).desc()).limit(MAX_PER_GUARDIAN)
    await session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.guardian_id) == guardian_id,
            col(PushSubscription.id).not_in(newest.scalar_subquery()),
        )
    )
    return row


async def remove(session: AsyncSession, guardian_id: int, endpoint: str) -> None:
    """This guardian's subscription at `endpoint`, if any (another's stays: nothing said)."""
    await session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.guardian_id) == guardian_id,
            col(PushSubscription.endpoint) == endpoint,
        )
    )


async def of_session(session: AsyncSession, session_hash: str) -> PushSubscription | None:
    """The subscription made under this sign-in: what this browser turned on."""
    found: PushSubscription | None = (
        await session.execute(
            select(PushSubscription).where(col(PushSubscription.session_hash) == session_hash)
        )
    ).scalar_one_or_none()
    return found


async def forget(session: AsyncSession, subscription_id: int) -> None:
    """A subscription its push service says is gone (404, 410)."""
    await session.execute(
        delete(PushSubscription).where(col(PushSubscription.id) == subscription_id)
    )


async def targets(
    session: AsyncSession, pickup_id: int, state: str, now: datetime, *, correction: bool = False
) -> list[Target]:
    """The browsers told of this step: the announcing adult's, while they still may pick up
    the child and their sign-in lasts; « En préparation » only where it was asked for (or
    as the correction of an undone « Prêt »)."""
    query = (
        select(
            col(PushSubscription.id),
            col(PushSubscription.endpoint),
            col(PushSubscription.p256dh),
            col(PushSubscription.auth),
            col(PushSubscription.locale),
            col(Child.first_name),
        )
        .select_from(Pickup)
        .join(Child, col(Child.id) == col(Pickup.child_id))
        .join(
            ChildGuardian,
            (col(ChildGuardian.child_id) == col(Pickup.child_id))
            & (col(ChildGuardian.guardian_id) == col(Pickup.guardian_id)),
        )
        .join(PushSubscription, col(PushSubscription.guardian_id) == col(Pickup.guardian_id))
        .join(SignInSession, col(SignInSession.token_hash) == col(PushSubscription.session_hash))
        .where(col(Pickup.id) == pickup_id, col(SignInSession.expires_at) > now)
        .order_by(col(PushSubscription.id))
    )
    if state == PREPARING and not correction:
        query = query.where(col(PushSubscription.preparing).is_(True))
    found: list[Target] = []
    for subscription_id, *rest in (await session.execute(query)).all():
        assert subscription_id is not None  # a primary key
        found.append(Target(subscription_id, *rest))
    return found


async def guardian_targets(
    session: AsyncSession, guardian_ids: Iterable[int], now: datetime
) -> list[Target]:
    """The browsers of these guardians whose sign-in lasts (an emergency closure's notice)."""
    ids = list(guardian_ids)
    if not ids:
        return []
    query = (
        select(
            col(PushSubscription.id),
            col(PushSubscription.endpoint),
            col(PushSubscription.p256dh),
            col(PushSubscription.auth),
            col(PushSubscription.locale),
        )
        .join(SignInSession, col(SignInSession.token_hash) == col(PushSubscription.session_hash))
        .where(col(PushSubscription.guardian_id).in_(ids), col(SignInSession.expires_at) > now)
        .order_by(col(PushSubscription.id))
    )
    found: list[Target] = []
    for subscription_id, endpoint, p256dh, auth, locale in (await session.execute(query)).all():
        assert subscription_id is not None  # a primary key
        found.append(Target(subscription_id, endpoint, p256dh, auth, locale, ""))
    return found
