"""`relais check`: the configuration read as a production start reads it, each problem in
plain words. `relais serve` refuses to start on the same configuration problems
(`start_problems`); the check adds what only a live look tells (the database, Redis, the
mail server, the demo accounts, the open-files limit)."""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiosmtplib
from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy import text

from .. import demo
from ..core.db import Database
from ..core.logs import log_format
from ..core.mail import SmtpConfig
from ..core.migrate import alembic_config
from ..core.settings import Settings
from ..web.origin import origin_of

# Each board is an open socket: below this a worker runs out of them at a school board's size.
MIN_OPEN_FILES = 4096
MIN_SECRET_LENGTH = 32
TIMEOUT = 5.0  # seconds for each service to answer


@dataclass(frozen=True)
class Finding:
    subject: str
    problem: str | None  # None: all right
    detail: str = ""  # what was found, when all is right


def start_problems(settings: Settings, workers: int) -> list[str]:
    """What a production start refuses, before touching the database."""
    problems = []
    if workers > 1 and not settings.redis_url:
        problems.append(
            "--workers above 1 needs RELAIS_REDIS_URL: boards on one worker would not see "
            "alerts made on another. Set RELAIS_REDIS_URL or use one worker."
        )
    if settings.clock_offset_seconds and not settings.demo:
        problems.append(
            "RELAIS_CLOCK_OFFSET_SECONDS shifts the clock for demos only: unset it, or set "
            "RELAIS_DEMO=1."
        )
    if not settings.demo and not origin_of(settings.public_url or ""):
        problems.append(
            "set RELAIS_PUBLIC_URL to the address people use, e.g. https://relais.example.org, "
            "for a production start (links in emails point there, never where a request says "
            "it came from), or RELAIS_DEMO=1 for a demo."
        )
    if not settings.demo and not os.environ.get("RELAIS_SECRET_KEY"):
        problems.append(
            "set RELAIS_SECRET_KEY (a long random string, kept secret and the same on every "
            "worker) for a production start, or RELAIS_DEMO=1 for a demo."
        )
    try:
        log_format()
    except ValueError as error:
        problems.append(str(error))
    return problems


def raise_open_files_limit() -> int:
    """Every board is an open socket: lift this process's soft limit on open files (often
    1,024) to the hard limit the system allows. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # not allowed here: keep the soft limit and say it
    return soft


def _configuration(settings: Settings) -> list[Finding]:
    findings = []
    public = origin_of(settings.public_url or "")
    if settings.demo:
        findings.append(Finding("demo mode", "RELAIS_DEMO=1 is a demo, not a production start."))
    if public and not public.startswith("https://"):
        findings.append(
            Finding(
                "public address",
                f"RELAIS_PUBLIC_URL is {public}: people must reach Relais over https:// "
                "(sign-in cookies and phones' GPS need it); put a TLS proxy in front.",
            )
        )
    elif public:
        findings.append(Finding("public address", None, public))
    secret = os.environ.get("RELAIS_SECRET_KEY", "")
    if secret and len(secret) < MIN_SECRET_LENGTH:
        findings.append(
            Finding(
                "secret key",
                f"RELAIS_SECRET_KEY has {len(secret)} characters: use at least "
                f"{MIN_SECRET_LENGTH} random ones (e.g. `openssl rand -base64 48`).",
            )
        )
    elif secret:
        findings.append(Finding("secret key", None, "set"))
    return findings


async def _answers(subject: str, probe: Callable[[], Awaitable[str]], what: str) -> Finding:
    try:
        return Finding(subject, None, await asyncio.wait_for(probe(), TIMEOUT))
    except Exception as error:
        reason = str(error) or type(error).__name__
        return Finding(subject, f"{what} does not answer: {reason}")


async def _database(settings: Settings) -> list[Finding]:
    db = Database(settings.database_url)
    engine = settings.database_url.split(":", 1)[0].split("+", 1)[0]
    try:

        async def revision() -> str:
            async with db.session() as session:
                rows = await session.execute(text("SELECT version_num FROM alembic_version"))
                return ",".join(sorted(rows.scalars())) or "none"

        reached = await _answers("database", revision, f"the database ({engine})")
        if reached.problem is not None:
            if "alembic_version" in reached.problem:
                return [Finding("database", "the database is empty: run `relais migrate`.")]
            return [reached]
        findings = [Finding("database", None, f"{engine}, reachable")]
        head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
        if reached.detail != head:
            findings.append(
                Finding(
                    "migrations",
                    f"the database is at revision {reached.detail}, this release needs {head}: "
                    "run `relais migrate`.",
                )
            )
        else:
            findings.append(Finding("migrations", None, f"at {head}"))
        async with db.session() as session:
            if await demo.demo_accounts_exist(session):
                findings.append(
                    Finding(
                        "demo accounts",
                        "the demo accounts (password demo-relais-2026) or the demo API token "
                        "exist in this database: use a fresh database for production.",
                    )
                )
            else:
                findings.append(Finding("demo accounts", None, "none"))
        return findings
    finally:
        await db.dispose()


async def _redis(settings: Settings, workers: int) -> list[Finding]:
    if not settings.redis_url:
        # Several workers without it: a start problem, said once already.
        return [] if workers > 1 else [Finding("redis", None, "not used (one worker)")]

    async def ping() -> str:
        client = Redis.from_url(settings.redis_url or "", socket_connect_timeout=TIMEOUT)
        try:
            await client.ping()
        finally:
            await client.aclose()
        parsed = urlsplit(settings.redis_url or "")
        return f"{parsed.hostname}:{parsed.port or 6379}, reachable"

    return [await _answers("redis", ping, "Redis (RELAIS_REDIS_URL)")]


async def _smtp(settings: Settings) -> list[Finding]:
    if not settings.smtp_url:
        return [
            Finding(
                "email",
                "RELAIS_SMTP_URL is not set: parents' activation emails, staff invitations and "
                "password resets would not be sent.",
            )
        ]
    try:
        config = SmtpConfig.from_url(settings.smtp_url)
    except ValueError as error:
        return [Finding("email", str(error))]

    async def greet() -> str:
        smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=TIMEOUT,
        )
        await smtp.connect()
        try:
            if config.username and config.password:
                await smtp.login(config.username, config.password)
        finally:
            await smtp.quit()
        return f"{config.host}:{config.port}, reachable"

    return [await _answers("email", greet, f"the mail server {config.host}:{config.port}")]


def _open_files() -> Finding:
    limit = raise_open_files_limit()
    if limit < MIN_OPEN_FILES:
        return Finding(
            "open files",
            f"a worker may open only {limit} files, and each board is one: raise the hard "
            f"limit to at least {MIN_OPEN_FILES} (LimitNOFILE= in the systemd unit, or "
            "ulimit -Hn).",
        )
    return Finding("open files", None, f"{limit} per worker")


async def check(settings: Settings, workers: int) -> list[Finding]:
    """Every finding, the problems and what is right."""
    findings = [Finding("configuration", problem) for problem in start_problems(settings, workers)]
    findings += _configuration(settings)
    findings += await _database(settings)
    findings += await _redis(settings, workers)
    findings += await _smtp(settings)
    findings.append(_open_files())
    return findings


def report(findings: list[Finding]) -> str:
    problems = [f for f in findings if f.problem]
    lines = [
        f"  {'PROBLEM' if f.problem else 'ok':8} {f.subject}: {f.problem or f.detail}"
        for f in findings
    ]
    verdict = (
        "relais check: all is right."
        if not problems
        else f"relais check: {len(problems)} problem{'s' if len(problems) > 1 else ''}."
    )
    return "\n".join([*lines, verdict])
