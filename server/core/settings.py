"""Typed settings read from environment variables, with embedded defaults for development."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _default_var_dir() -> Path:
    return Path(os.environ.get("RELAIS_VAR_DIR", PROJECT_ROOT / "var"))


def _load_or_create_secret(var_dir: Path) -> str:
    """A development secret generated once and kept under var/, so sessions survive restarts."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    var_dir: Path
    redis_url: str | None = None
    smtp_url: str | None = None
    # The address people use (https://relais.example.org): links in emails point there. A
    # production start requires it (links must never follow a request's Host header).
    public_url: str | None = None
    # Lets a monitoring system read /healthz's details (`Authorization: Bearer <token>`);
    # without it only loopback gets them.
    metrics_token: str | None = None
    demo: bool = False
    # Worker processes `relais serve` (and `relais check`) count on, without --workers.
    workers: int = 1
    # Cookies are marked Secure when served over HTTPS; force it behind a TLS proxy.
    secure_cookies: bool = False
    # Extra origins allowed to open WebSockets besides the server's own.
    allowed_origins: tuple[str, ...] = ()
    session_hours: int = 12
    # How often the background worker promotes due arrivals and expires old pickups.
    tick_seconds: float = 1.0
    # Messages a slow board may have waiting before it is dropped (it resyncs on reconnect).
    socket_queue_size: int = 256
    # Demos and tests of the real command only: the server's clock runs this many seconds
    # ahead of (or behind) the system clock. A production start refuses it.
    clock_offset_seconds: float = 0.0
    # Web Push (VAPID, RFC 8292): the server's P-256 private key (PEM, or the raw key in
    # base64url); unset: generated once into var/vapid_private_key.pem. The subject is how a
    # push service reaches whoever runs Relais (a mailto: or an https: address).
    vapid_private_key: str | None = None
    vapid_subject: str | None = None
    # A push service that does not answer within this is given up on for this attempt; 429 and
    # 5xx answers (and timeouts) are tried again, waiting `push_retry_seconds` then twice as
    # long each time (or the Retry-After asked, up to a minute), `push_attempts` in all.
    push_timeout_seconds: float = 10.0
    push_retry_seconds: float = 2.0
    push_attempts: int = 4
    # Where photos are kept (re-encoded JPEG files named by random ids).
    photos_dir_name: str = "photos"
    static_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "static")
    vendor_dir: Path = field(
        default_factory=lambda: PROJECT_ROOT / "node_modules" / "htmx.org" / "dist"
    )

    @property
    def photos_dir(self) -> Path:
        return self.var_dir / self.photos_dir_name

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        var_dir = Path(env.get("RELAIS_VAR_DIR", str(PROJECT_ROOT / "var")))
        database_url = (
            env.get("RELAIS_DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'relais.db'}"
        )
        secret = env.get("RELAIS_SECRET_KEY") or _load_or_create_secret(var_dir)
        origins = tuple(
            o.strip() for o in env.get("RELAIS_ALLOWED_ORIGINS", "").split(",") if o.strip()
        )
        return cls(
            database_url=database_url,
            secret_key=secret,
            var_dir=var_dir,
            redis_url=env.get("RELAIS_REDIS_URL") or None,
            smtp_url=env.get("RELAIS_SMTP_URL") or None,
            public_url=(env.get("RELAIS_PUBLIC_URL") or "").strip().rstrip("/") or None,
            metrics_token=env.get("RELAIS_METRICS_TOKEN") or None,
            demo=env.get("RELAIS_DEMO", "") in {"1", "true", "yes"},
            workers=int(env.get("RELAIS_WORKERS") or 1),
            secure_cookies=env.get("RELAIS_SECURE_COOKIES", "") in {"1", "true", "yes"},
            allowed_origins=origins,
            tick_seconds=float(env.get("RELAIS_TICK_SECONDS", "1.0")),
            clock_offset_seconds=float(env.get("RELAIS_CLOCK_OFFSET_SECONDS") or 0),
            vapid_private_key=env.get("RELAIS_VAPID_PRIVATE_KEY") or None,
            vapid_subject=env.get("RELAIS_VAPID_SUBJECT") or None,
        )
