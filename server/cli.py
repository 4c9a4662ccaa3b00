"""The `relais` command: serve, demo, migrate, create-admin, import-roster."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from . import demo
from .accounts.admins import create_admin
from .core.clock import clock_with_offset
from .core.db import Database
from .core.migrate import upgrade
from .core.settings import Settings
from .demo_portraits import ensure_portraits
from .push.keys import BadVapidKey, load_vapid
from .roster.cli import import_roster
from .web.origin import origin_of


def _migrate(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)


async def _prepare_demo(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            now = clock_with_offset(settings.clock_offset_seconds).now()
            if not await demo.has_data(session):
                await demo.load_demo(session, now)
                await ensure_portraits(session, settings.photos_dir)
                await session.commit()
                return "created"
            if await demo.demo_accounts_exist(session):
                await demo.check_in_everyone(session, now)
                await ensure_portraits(session, settings.photos_dir)
                await session.commit()
                return "present"
            return "not-demo"
    finally:
        await db.dispose()


async def _demo_accounts_exist(settings: Settings) -> bool:
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            return await demo.demo_accounts_exist(session)
    finally:
        await db.dispose()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    print("Database is up to date.")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    result = asyncio.run(_prepare_demo(settings))
    messages = {
        "created": "Demo data created. Sign in with direction@example.org / demo-relais-2026.",
        "present": "Demo data already there; every demo child is checked in for today.",
        "not-demo": "The database already holds real data: demo data not loaded.",
    }
    print(messages[result])
    return 0 if result != "not-demo" else 1


def raise_open_files_limit() -> int:
    """Every board is an open socket: lift this process's soft limit on open files (often
    1,024) to the hard limit the system allows. Returns the limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # not allowed here: keep the soft limit and say it below
    return soft


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if args.workers > 1 and not settings.redis_url:
        print(
            "relais serve: --workers above 1 needs RELAIS_REDIS_URL: boards on one worker would "
            "not see alerts made on another. Set RELAIS_REDIS_URL or use one worker.",
            file=sys.stderr,
        )
        return 2
    if settings.clock_offset_seconds and not settings.demo:
        print(
            "relais serve: RELAIS_CLOCK_OFFSET_SECONDS shifts the clock for demos only: "
            "unset it, or set RELAIS_DEMO=1.",
            file=sys.stderr,
        )
        return 2
    if not settings.demo and not origin_of(settings.public_url or ""):
        print(
            "relais serve: set RELAIS_PUBLIC_URL to the address people use, e.g. "
            "https://relais.example.org, for a production start (links in emails point there, "
            "never where a request says it came from), or RELAIS_DEMO=1 for a demo.",
            file=sys.stderr,
        )
        return 2
    if not settings.demo and not os.environ.get("RELAIS_SECRET_KEY"):
        print(
            "relais serve: set RELAIS_SECRET_KEY (a long random string, kept secret and the "
            "same on every worker) for a production start, or RELAIS_DEMO=1 for a demo.",
            file=sys.stderr,
        )
        return 2
    try:
        # Checked, or generated once into var/, before any worker starts.
        load_vapid(settings)
    except BadVapidKey as error:
        print(f"relais serve: {error}.", file=sys.stderr)
        return 2
    _migrate(settings)
    if settings.demo:
        print(f"Demo: {asyncio.run(_prepare_demo(settings))}.")
    elif asyncio.run(_demo_accounts_exist(settings)):
        print(
            "relais serve: demo accounts (password demo-relais-2026) exist in this database. "
            "Refusing a production start: use a fresh database, or set RELAIS_DEMO=1 for a demo.",
            file=sys.stderr,
        )
        return 2
    open_files = raise_open_files_limit()
    if open_files < 4096:
        print(
            f"relais serve: this process may open only {open_files} files, so each worker "
            "holds fewer boards than that; raise the hard limit (ulimit -Hn) for more.",
            file=sys.stderr,
        )
    host = args.host or os.environ.get("HOST", "127.0.0.1")
    port = args.port or int(os.environ.get("PORT", "8000"))
    print(f"Relais on http://{host}:{port}")
    uvicorn.run(
        "server.asgi:app",
        host=host,
        port=port,
        workers=args.workers,
        proxy_headers=True,
        log_level="info",
        # The Sans-I/O protocol: no tasks of its own per socket, and a send is a write to
        # the transport (the tests' servers run the same one).
        ws="websockets-sansio",
        ws_per_message_deflate=False,  # fragments are small; compression costs memory per socket
    )
    return 0


def cmd_create_admin(args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    email = args.email or input("Email: ").strip()
    name = args.name or input("Name: ").strip()
    password = os.environ.get("RELAIS_ADMIN_PASSWORD") or getpass.getpass(
        "Password (12+ characters): "
    )
    try:
        message = asyncio.run(create_admin(settings, email, name, password, args.organization))
    except ValueError as error:
        print(f"relais create-admin: {error}", file=sys.stderr)
        return 2
    print(message)
    return 0


def cmd_import_roster(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    _migrate(settings)
    return import_roster(settings, Path(args.file), args.organization)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relais", description="Relais pickup alerts")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="apply migrations and serve")
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("demo", help="load the demo data into an empty database").set_defaults(
        func=cmd_demo
    )
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    admin = sub.add_parser("create-admin", help="create a director/admin account")
    admin.add_argument("--email")
    admin.add_argument("--name")
    admin.add_argument("--organization", help="name of the organization to create if none exists")
    admin.set_defaults(func=cmd_create_admin)
    roster = sub.add_parser(
        "import-roster", help="import a roster: OneRoster 1.1 CSV zip (.zip) or one-file CSV (.csv)"
    )
    roster.add_argument("file")
    roster.add_argument("--organization", help="organization name (when there are several)")
    roster.set_defaults(func=cmd_import_roster)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    result: int = args.func(args, settings)
    return result
