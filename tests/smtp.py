"""A real SMTP server for tests (aiosmtpd): what Relais sends arrives here, as it would at a
mail server; tests read the messages and follow their links."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.helpers import free_port


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    body: str

    def link(self, kind: str = "activate") -> str:
        match = re.search(rf"https?://\S+/parent/{kind}/[\w-]+", self.body)
        assert match, f"no {kind} link in:\n{self.body}"
        return match.group(0)


class Inbox:
    """A real SMTP server on a free port that keeps what it receives. `wait_for(n)` blocks
    until n messages came (links are sent after the answer, from a background task)."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self._arrived = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else (content or "").encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        mail = Mail(list(envelope.rcpt_tos), str(message["Subject"]), body.get_content())
        with self._arrived:
            self.messages.append(mail)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10) -> list[Mail]:
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        assert arrived, f"expected {count} emails, got {len(self.messages)}"
        return list(self.messages)
