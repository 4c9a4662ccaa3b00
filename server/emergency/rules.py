"""The lifecycle of an emergency and of its roll, pure: no database, the clock is an argument.

An emergency is active from its start until someone ends it. Each child present at the start
has a roll line: « pending » until checked off at the assembly point (« present »), which can
be taken back for `UNDO_WINDOW`, or handed to an authorized adult (« released », final).
A child present or released is accounted for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ..core.models import EmergencyKind, Role, RollStatus

S = RollStatus
UNDO_WINDOW = timedelta(seconds=10)
MESSAGE_MAX = 1000
ASSEMBLY_POINT_MAX = 300

# What staff may do to a line, from its current status.
CHECK = {S.PENDING: S.PRESENT}
RELEASE_FROM = frozenset({S.PENDING, S.PRESENT})
ACCOUNTED = frozenset({S.PRESENT, S.RELEASED})


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # this role may not start or end an emergency
    ALREADY_ACTIVE = "already_active"  # the installation has an emergency under way
    NOT_ACTIVE = "not_active"  # the emergency has ended (or never was)
    DRILL_CLOSURE = "drill_closure"  # only an evacuation can be a drill
    NO_INSTALLATION = "no_installation"
    MESSAGE_TOO_LONG = "message_too_long"
    ASSEMBLY_POINT_TOO_LONG = "assembly_point_too_long"
    UNDO_EXPIRED = "undo_expired"
    NOT_FAMILY = "not_family"  # a release to an adult not on the family's list


class RuleError(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass(frozen=True)
class StartRequest:
    """What the start form asks for, before any database work."""

    installation_ids: tuple[int, ...]
    kind: EmergencyKind
    drill: bool
    message: str
    assembly_point: str


def check_start(request: StartRequest) -> None:
    """The form's own rules (the caller checks roles and installations)."""
    if not request.installation_ids:
        raise RuleError(Refusal.NO_INSTALLATION)
    if request.drill and request.kind != EmergencyKind.EVACUATION:
        raise RuleError(Refusal.DRILL_CLOSURE)
    if len(request.message) > MESSAGE_MAX:
        raise RuleError(Refusal.MESSAGE_TOO_LONG)
    if len(request.assembly_point) > ASSEMBLY_POINT_MAX:
        raise RuleError(Refusal.ASSEMBLY_POINT_TOO_LONG)


def may_start(role: str, reception_allowed: bool) -> bool:
    """A director always; reception when the director allows it (for its installation)."""
    return role == Role.ADMIN or (role == Role.RECEPTION and reception_allowed)


def may_end(role: str, reception_allowed: bool) -> bool:
    """Whoever may start one may end it."""
    return may_start(role, reception_allowed)


def check_active(ended_at: datetime | None) -> None:
    if ended_at is not None:
        raise RuleError(Refusal.NOT_ACTIVE)


def tells_families(drill: bool) -> bool:
    """A drill informs no family; a real emergency tells every guardian of a child present."""
    return not drill


def check_target(current: RollStatus) -> RollStatus | None:
    """The status « Présent » moves a line to; None: nothing to do (already checked or
    released — a second tablet's press is not an error)."""
    return CHECK.get(current)


def undo_deadline(checked_at: datetime) -> datetime:
    return checked_at + UNDO_WINDOW


def can_undo(current: RollStatus, checked_at: datetime | None, now: datetime) -> bool:
    """A check can be taken back for exactly `UNDO_WINDOW`; a release never (the child left)."""
    return current == S.PRESENT and checked_at is not None and now <= undo_deadline(checked_at)


def check_undo(current: RollStatus, checked_at: datetime | None, now: datetime) -> RollStatus:
    """The status an undo returns the line to, or RuleError(UNDO_EXPIRED)."""
    if not can_undo(current, checked_at, now):
        raise RuleError(Refusal.UNDO_EXPIRED)
    return S.PENDING


def can_release(current: RollStatus) -> bool:
    return current in RELEASE_FROM


def check_release(adult_id: int, family: Iterable[int]) -> None:
    """Only an adult on the family's list may take the child."""
    if adult_id not in set(family):
        raise RuleError(Refusal.NOT_FAMILY)


@dataclass(frozen=True)
class Counts:
    total: int
    accounted: int

    @property
    def missing(self) -> int:
        return self.total - self.accounted

    @property
    def all_accounted(self) -> bool:
        return self.accounted == self.total


def counts(statuses: Iterable[str]) -> Counts:
    listed = list(statuses)
    return Counts(len(listed), sum(1 for s in listed if s in ACCOUNTED))


@dataclass(frozen=True)
class Step:
    """One line of a roll's timeline, as the rules need it."""

    child_id: int
    to_status: str
    at: datetime


def all_accounted_at(children: Iterable[int], steps: Iterable[Step]) -> datetime | None:
    """The first moment every child of the roll was accounted for, replaying its timeline in
    order (an undone check counts again as missing); None: not yet. An empty roll is
    accounted for from the start (the caller uses the start time)."""
    missing = set(children)
    if not missing:
        return None
    accounted: set[int] = set()
    for step in sorted(steps, key=lambda s: s.at):
        if step.to_status in ACCOUNTED:
            accounted.add(step.child_id)
        else:
            accounted.discard(step.child_id)
        if missing <= accounted:
            return step.at
    return None


def time_to_all_accounted(
    started_at: datetime, children: Iterable[int], steps: Iterable[Step]
) -> timedelta | None:
    """How long until every child was accounted for (the drill's figure); None: not yet."""
    listed = list(children)
    if not listed:
        return timedelta(0)
    at = all_accounted_at(listed, steps)
    return None if at is None else at - started_at


def elapsed(started_at: datetime, now: datetime, ended_at: datetime | None = None) -> timedelta:
    """Time since the start (until the end, once ended); never negative."""
    return max((ended_at or now) - started_at, timedelta(0))
