"""`relais import-roster FILE`: read, check, apply with a progress bar on stderr, summarize.

A roster that would deactivate more than a fifth of the active children applies only with
`--confirm-deactivations`, or when the person at the terminal answers "yes"; run from a script
without the flag, it is refused (exit 1) and nothing is applied."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlmodel import col

from ..accounts.guardians import send_all
from ..core.clock import SystemClock
from ..core.db import Database
from ..core.mail import create_mailer
from ..core.models import Organization
from ..core.settings import Settings
from .apply import KINDS, DeactivationsUnconfirmed, Plan, apply_roster
from .csv_rows import MAX_FILE_BYTES
from .model import Roster, RosterInvalid
from .read import read_file

BAR_WIDTH = 30
# Asks the person at the terminal a yes/no question (None: nobody to ask).
Ask = Callable[[str], bool]


class ProgressBar:
    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream, self.label = stream, label

    def __call__(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}{end}")
        self.stream.flush()


def summary(plan: Plan, invitations: int) -> str:
    if plan.empty:
        return "Nothing to change: the database already matches the roster."
    lines = []
    for action in ("created", "updated", "deactivated"):
        counts: dict[str, int] = getattr(plan, action)
        lines.append(f"{action:>12}: " + ", ".join(f"{counts[k]} {k}" for k in KINDS))
    lines.append(f"{'invited':>12}: {invitations} guardians")
    return "\n".join(lines)


def confirm_on_terminal(question: str) -> bool:
    """The question on stderr, the answer from the terminal: only "yes" says yes."""
    print(question, end=" ", file=sys.stderr, flush=True)
    try:
        return input().strip().lower() in {"yes", "y", "oui", "o"}
    except EOFError:
        return False


def deactivation_question(plan: Plan) -> str:
    return (
        f"This roster would deactivate {plan.children_deactivated} of the "
        f"{plan.active_children} active children (more than a fifth). Apply it? [yes/no]"
    )


def import_roster(
    settings: Settings,
    path: Path,
    organization: str | None,
    *,
    confirm_deactivations: bool = False,
    ask: Ask | None = None,
) -> int:
    """Read and check the file, then apply it; 1 with the per-row errors when invalid, or when
    it deactivates more than a fifth of the active children unconfirmed (by the flag or by
    `ask`, the terminal's answer)."""
    err = sys.stderr
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            print(f"relais import-roster: {path} is larger than 20 MB.", file=err)
            return 1
        data = path.read_bytes()
    except OSError as exc:
        print(f"relais import-roster: cannot read {path}: {exc.strerror}", file=err)
        return 1
    try:
        roster = read_file(path.name, data)
    except RosterInvalid as invalid:
        print(f"relais import-roster: {path.name} is not valid; nothing was applied.", file=err)
        for problem in invalid.errors:
            print(f"  {problem}", file=err)
        return 1
    print(
        f"{path.name}: {len(roster.installations)} installations, {len(roster.guardians)} "
        f"guardians, {len(roster.children)} children.",
        file=err,
    )
    return asyncio.run(
        _apply(settings, path.name, roster, organization, confirm_deactivations, ask)
    )


async def _apply(
    settings: Settings,
    name: str,
    roster: Roster,
    organization: str | None,
    confirmed: bool,
    ask: Ask | None,
) -> int:
    err = sys.stderr
    db = Database(settings.database_url)
    clock = SystemClock()
    try:
        async with db.session() as session:
            query = select(Organization).order_by(col(Organization.id))
            if organization:
                query = query.where(col(Organization.name) == organization)
            orgs = (await session.execute(query)).scalars().all()
            if len(orgs) != 1:
                names = ", ".join(o.name for o in orgs) or "none"
                reason = "no such organization" if organization else f"organizations: {names}"
                print(
                    f"relais import-roster: choose one organization with --organization NAME "
                    f"({reason}).",
                    file=err,
                )
                return 1
            assert orgs[0].id is not None
            while True:
                try:
                    outcome = await apply_roster(
                        session,
                        orgs[0].id,
                        roster,
                        base_url=settings.public_url or "http://127.0.0.1:8000",
                        now=clock.now(),
                        progress=ProgressBar(err, "Children"),
                        confirm_deactivations=confirmed,
                    )
                    break
                except RosterInvalid as invalid:
                    print(f"relais import-roster: {name} cannot be applied:", file=err)
                    for problem in invalid.errors:
                        print(f"  {problem}", file=err)
                    return 1
                except DeactivationsUnconfirmed as unconfirmed:
                    # Nothing was written: ask, then apply again with the answer.
                    plan = unconfirmed.plan
                    if ask is not None and ask(deactivation_question(plan)):
                        confirmed = True
                        continue
                    print(
                        f"relais import-roster: {name} would deactivate "
                        f"{plan.children_deactivated} of the {plan.active_children} active "
                        "children (more than a fifth); nothing was applied. Check that the file "
                        "is the whole roster; to apply it anyway, run again with "
                        "--confirm-deactivations.",
                        file=err,
                    )
                    return 1
            await session.commit()
        if outcome.emails:
            mailer = create_mailer(settings.smtp_url, db, clock)
            bar = ProgressBar(err, "Invitations")
            for done, email in enumerate(outcome.emails, start=1):
                await send_all(mailer, [email])
                if done % 50 == 0 or done == len(outcome.emails):
                    bar(done, len(outcome.emails))
        # Boards of a running server refresh when they next resync (no broker from here).
        print(summary(outcome.plan, len(outcome.emails)))
        return 0
    finally:
        await db.dispose()
