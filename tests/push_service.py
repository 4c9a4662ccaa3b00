"""A real push service for the tests (RFC 8030's receiving end), on a free port: it takes the
POST a browser's push service would, checks its VAPID `Authorization` header (RFC 8292)
against the server's public key, and lets the test decrypt the body with the subscription's
own private key and auth secret (RFC 8291, aes128gcm): the bytes a browser would get.

Each subscription is a browser of its own (`Browser`: a P-256 key pair and 16 random bytes)
whose endpoint is `/push/<name>`; the test says how the service answers it: a list of
statuses in turn (then 201), or "hang" until released."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from server.core.models import PushSubscription
from server.core.settings import Settings
from server.services import Services
from tests.helpers import api_headers, csrf, in_db, serving_app

HANG = "hang"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Delivery:
    """One POST the push service received."""

    name: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # what it answered (None: still hanging)


@dataclass
class Browser:
    """A browser's side of a subscription: what it keeps secret, what it gives the page."""

    name: str
    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, **extra: Any) -> dict[str, Any]:
        """What `PushSubscription.toJSON()` gives the page."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        keys = {"p256dh": b64url(point), "auth": b64url(self.auth)}
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": keys, **extra}

    def decrypt(self, delivery: Delivery) -> dict[str, Any]:
        assert delivery.headers["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(
            delivery.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        message: dict[str, Any] = json.loads(plain)
        return message


def check_vapid(delivery: Delivery, server_key: str, origin: str) -> dict[str, Any]:
    """The VAPID header is signed by the server's key (as /parent/push/key gives it), for this
    push service, not expired: its claims."""
    scheme, _, params = delivery.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(part.strip().split("=", 1) for part in params.split(","))
    assert parts["k"] == server_key, "signed by another key than the server's"
    header, claims, signature = parts["t"].split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(server_key))
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    try:
        public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as error:
        raise AssertionError("the VAPID signature does not verify") from error
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    decoded: dict[str, Any] = json.loads(unb64url(claims))
    assert decoded["aud"] == origin
    assert decoded["exp"] > time.time()
    assert decoded["sub"].startswith(("mailto:", "https://"))
    return decoded


class PushService:
    def __init__(self) -> None:
        self.url = ""
        self.deliveries: list[Delivery] = []
        self.answers: dict[str, list[int | str]] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.changed = threading.Condition()
        self.release = threading.Event()
        self.app = Starlette(
            routes=[
                Route("/push/{name}", self._receive, methods=["POST"]),
                Route("/healthz", lambda _r: JSONResponse({"status": "ok"})),
            ]
        )

    def browser(
        self, name: str, *answers: int | str, headers: dict[str, str] | None = None
    ) -> Browser:
        """A browser whose push service answers `answers` in turn (then 201)."""
        self.answers[name] = list(answers)
        self.headers[name] = headers or {}
        return Browser(name, f"{self.url}/push/{name}")

    async def _receive(self, request: Request) -> Response:
        name = request.path_params["name"]
        delivery = Delivery(name, dict(request.headers), await request.body())
        with self.changed:
            self.deliveries.append(delivery)
            queued = self.answers.get(name, [])
            answer = queued.pop(0) if queued else 201
            self.changed.notify_all()
        if answer == HANG:
            await asyncio.to_thread(self.release.wait, 60)
            answer = 201
        assert isinstance(answer, int)
        with self.changed:
            delivery.status = answer
            self.changed.notify_all()
        return Response(status_code=answer, headers=self.headers.get(name, {}))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """The first `count` deliveries, once received (a guard, not a wait: they arrive in
        milliseconds)."""
        with self.changed:
            arrived = self.changed.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert arrived, f"{len(self.deliveries)} deliveries, expected {count}"
            return list(self.deliveries)

    def to(self, name: str) -> list[Delivery]:
        with self.changed:
            return [d for d in self.deliveries if d.name == name]


@contextmanager
def push_service() -> Iterator[PushService]:
    service = PushService()
    with serving_app(service.app) as url:
        service.url = url
        try:
            yield service
        finally:
            service.release.set()


# -- what tests of the server around it share --------------------------------------------------

SUBSCRIPTIONS = "/parent/push/subscriptions"


def demo_settings(database_url: str, var_dir: Any, **more: Any) -> Settings:
    """A demo's settings: a push service on this machine (http://127.0.0.1) may stand in for
    a browser vendor's."""
    return Settings(
        database_url=database_url, secret_key="test-secret-key", var_dir=var_dir, demo=True, **more
    )


def services(client: TestClient) -> Services:
    app = client.app
    assert isinstance(app, Starlette)
    svc: Services = app.state.services
    return svc


def drain(client: TestClient) -> None:
    """Every notice queued so far delivered, refused or given up on."""
    assert client.portal is not None
    client.portal.call(services(client).push.drain)


def subscribe(parent: TestClient, browser: Browser, **extra: Any) -> Any:
    return parent.post(SUBSCRIPTIONS, json=browser.subscription(**extra), headers=csrf(parent))


def step(client: TestClient, pickup_id: int, *statuses: str) -> None:
    """The daycare moves the pickup through `statuses` (through the API)."""
    for status in statuses:
        answer = client.post(
            f"/api/v1/pickups/{pickup_id}/status", headers=api_headers(), json={"status": status}
        )
        assert answer.status_code == 200, answer.text


def subscription_count(database_url: str) -> int:
    async def count(session: AsyncSession) -> int:
        counted = await session.execute(select(func.count()).select_from(PushSubscription))
        return int(counted.scalar_one())

    return in_db(database_url, count)
