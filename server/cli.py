"""The `relais` command: serve, demo, migrate, create-admin, import-roster, purge, check,
backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from . import demo
from .accounts.admins import create_admin
from .core.clock import clock_with_offset
from .core.db import Database
from .core.logs import log_format, logging_config
from .core.migrate import upgrade
from .core.settings import Settings
from .demo_portraits import ensure_portraits
from .ops import backup, check
from .ops.check import raise_open_files_limit
from .privacy import retention
from .push.keys import BadVapidKey, load_vapid
from .roster.cli import confirm_on_terminal, import_roster


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


async def _reset_demo(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            # Never over real data: only a database holding the demo (or nothing) is emptied.
            if await demo.has_data(session) and not await demo.demo_accounts_exist(session):
                return "not-demo"
            await demo.clear_everything(session)
            await demo.load_demo(session, clock_with_offset(settings.clock_offset_seconds).now())
            await ensure_portraits(session, settings.photos_dir)
            await session.commit()
            return "reset"
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
    if args.reset:
        result = asyncio.run(_reset_demo(settings))
    else:
        result = asyncio.run(_prepare_demo(settings))
    messages = {
        "created": "Demo data created. Sign in with direction@example.org / demo-relais-2026.",
        "present": "Demo data already there; every demo child is checked in for today.",
        "reset": "Demo data reset to its first state. Sign in with direction@example.org / "
        "demo-relais-2026.",
        "not-demo": "The database already holds real data: demo data not "
        + ("reset (nothing deleted)." if args.reset else "loaded."),
    }
    print(messages[result])
    return 0 if result != "not-demo" else 1


def _empty_metrics_directory(directory: Path) -> None:
    """Before the workers start: files of a previous run would add to this one's counters.
    (Here, not in core/metrics.py: this process must not import the client library before
    the variable is set, or it would keep its figures where /metrics never looks.)"""
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        path.unlink()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    workers = args.workers or settings.workers
    problems = check.start_problems(settings, workers)
    for problem in problems:
        print(f"relais serve: {problem}", file=sys.stderr)
    if problems:
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
    if open_files < check.MIN_OPEN_FILES:
        print(
            f"relais serve: this process may open only {open_files} files, so each worker "
            "holds fewer boards than that; raise the hard limit (ulimit -Hn) for more.",
            file=sys.stderr,
        )
    if workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Set before the workers start (they read it when they import the client library):
        # each keeps its figures in files there, and any of them answers for all.
        directory = os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", str(settings.var_dir / "metrics")
        )
        _empty_metrics_directory(Path(directory))
    host = args.host or os.environ.get("HOST", "127.0.0.1")
    port = args.port or int(os.environ.get("PORT", "8000"))
    print(f"Relais on http://{host}:{port}")
    uvicorn.run(
        "server.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_config=logging_config(log_format()),
        access_log=False,  # ours names the route, never the path (tokens) — core/logs.py
        # uvicorn pings each worker, a starting one included, and replaces it when it does
        # not answer within this time: its default, 5 s, is shorter than a worker's start
        # (importing the app) on a loaded machine, and the new workers were killed in turn.
        timeout_worker_healthcheck=30,
        # The Sans-I/O protocol: no tasks of its own per socket, and a send is a write to
        # the transport (the tests' servers run the same one).
        ws="websockets-sansio",
        ws_per_message_deflate=False,  # fragments are small; compression costs memory per socket
    )
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    findings = asyncio.run(check.check(settings, args.workers or settings.workers))
    print(check.report(findings))
    return 1 if any(f.problem for f in findings) else 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> str:
        backup.backup(settings.database_url, Path(args.file))
        return f"Backup written to {args.file}."

    return _said("backup", run)


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> str:
        return f"Restored {args.file} ({backup.restore(settings.database_url, Path(args.file))})."

    return _said("restore", run)


def _said(command: str, run: Callable[[], str]) -> int:
    """A backup command's outcome in a sentence; its refusal on stderr, exit code 2."""
    try:
        print(run())
    except backup.BackupError as error:
        print(f"relais {command}: {error}", file=sys.stderr)
        return 2
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
    ask = confirm_on_terminal if sys.stdin.isatty() else None
    return import_roster(
        settings,
        Path(args.file),
        args.organization,
        confirm_deactivations=args.confirm_deactivations,
        ask=ask,
    )


async def _purge(settings: Settings, dry_run: bool) -> retention.PurgeReport:
    db = Database(settings.database_url)
    try:
        now = clock_with_offset(settings.clock_offset_seconds).now()
        return await retention.run(db, settings.photos_dir, now, dry_run=dry_run)
    finally:
        await db.dispose()


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    report = asyncio.run(_purge(settings, args.dry_run))
    verb = "would delete or anonymize" if args.dry_run else "deleted or anonymized"
    print(f"relais purge: {verb} {report.total} rows past their retention period.")
    for kind, count in report.counts.items():
        print(f"  {kind}: {count}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relais", description="Relais pickup alerts")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="apply migrations and serve")
    serve.add_argument("--workers", type=int, help="worker processes (RELAIS_WORKERS, else 1)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    demo_parser = sub.add_parser("demo", help="load the demo data into an empty database")
    demo_parser.add_argument(
        "--reset",
        action="store_true",
        help="delete everything in a demo database and load the demo afresh",
    )
    demo_parser.set_defaults(func=cmd_demo)
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
    roster.add_argument(
        "--confirm-deactivations",
        action="store_true",
        help="apply even if more than a fifth of the active children would be deactivated "
        "(otherwise asked on a terminal, refused elsewhere)",
    )
    roster.set_defaults(func=cmd_import_roster)
    purge = sub.add_parser(
        "purge", help="delete or anonymize what is past its retention period, with counts"
    )
    purge.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    purge.set_defaults(func=cmd_purge)
    checking = sub.add_parser("check", help="check the production configuration")
    checking.add_argument("--workers", type=int, help="as for serve (RELAIS_WORKERS, else 1)")
    checking.set_defaults(func=cmd_check)
    saving = sub.add_parser("backup", help="back the database up to FILE, while serving")
    saving.add_argument("file")
    saving.set_defaults(func=cmd_backup)
    restoring = sub.add_parser("restore", help="restore FILE into an empty database")
    restoring.add_argument("file")
    restoring.set_defaults(func=cmd_restore)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    result: int = args.func(args, settings)
    return result
