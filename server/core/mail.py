"""Outgoing email. With RELAIS_SMTP_URL set, messages go to that SMTP server (aiosmtplib);
without it, they are written to the outbox table, which the demo shows at /dev/outbox.

    RELAIS_SMTP_URL=smtp://user:password@mail.example.org:587?starttls=1&from=relais@example.org
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .clock import Clock
from .db import Database
from .models import OutboxMessage

log = logging.getLogger(__name__)
DEFAULT_SENDER = "Relais <relais@localhost>"


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


async def delivered(mailer: Mailer, to: str, subject: str, body: str) -> bool:
    """Send one message; False when it could not be sent (the mail server down, refusing it,
    the outbox unreachable), for the page to say so. The failure is logged without the
    address or the text, which an error from the server may quote."""
    try:
        await mailer.send(to, subject, body)
    except Exception as error:
        # The SMTP reply code or the socket's errno say why; the message may quote addresses.
        code = getattr(error, "code", None) or getattr(error, "errno", None)
        log.error("an email could not be sent: %s %s", type(error).__name__, code or "")
        return False
    return True


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    sender: str

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parsed = urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"} or not parsed.hostname:
            raise ValueError("RELAIS_SMTP_URL must look like smtp://user:pass@host:587")
        query = parse_qs(parsed.query)
        tls = parsed.scheme == "smtps"
        return cls(
            host=parsed.hostname,
            port=parsed.port or (465 if tls else 25),
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            use_tls=tls,
            start_tls=query.get("starttls", ["0"])[0] in {"1", "true", "yes"},
            sender=query.get("from", [DEFAULT_SENDER])[0],
        )


def compose(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


class SmtpMailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, to: str, subject: str, body: str) -> None:
        c = self.config
        await aiosmtplib.send(
            compose(c.sender, to, subject, body),
            hostname=c.host,
            port=c.port,
            username=c.username,
            password=c.password,
            use_tls=c.use_tls,
            start_tls=c.start_tls,
            timeout=20,
        )


class OutboxMailer:
    """Development and demo: keep the messages where a person can read them."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def send(self, to: str, subject: str, body: str) -> None:
        now: datetime = self.clock.now()
        async with self.db.session() as session:
            session.add(OutboxMessage(to=to, subject=subject, body=body, created_at=now))
            await session.commit()
        log.info("an email was written to the outbox")  # no address, no subject: personal


def create_mailer(smtp_url: str | None, db: Database, clock: Clock) -> Mailer:
    if smtp_url:
        return SmtpMailer(SmtpConfig.from_url(smtp_url))
    return OutboxMailer(db, clock)


async def outbox_messages(session: AsyncSession, limit: int) -> list[OutboxMessage]:
    """The outbox's newest `limit` messages, newest first."""
    query = (
        select(OutboxMessage)
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .limit(limit)
    )
    return list(await session.scalars(query))
