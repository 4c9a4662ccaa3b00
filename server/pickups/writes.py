"""The pickup lifecycle's writes, statement by statement, as plain functions of one connection.

Synchronous SQLAlchemy Core on the tables, built once: the same code runs inline on SQLite
(a few microseconds a statement, no thread hand-off: `Database.write`) and through `run_sync`
on PostgreSQL or inside an ORM session. Each function leaves the transaction to its caller,
and returns the rows it changed so nobody reads them again after the commit: the answer to
the request and the board event are built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Connection,
    Date,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from ..core.db import UTCDateTime
from ..core.models import (
    ActorKind,
    Attendance,
    Child,
    ChildGuardian,
    Emergency,
    Group,
    Guardian,
    Installation,
    Pickup,
    PickupEvent,
    PickupMode,
    PickupStatus,
    TripPosition,
)
from . import rules
from .events import BoardEvent, ChildRow, PickupRow
from .events import take_seq as next_seq
from .rules import Refusal, RuleError

S = PickupStatus


def _table(model: type[Any]) -> Table:
    return cast(Table, inspect(model).local_table)


PICKUP, PICKUP_EVENT, CHILD, GUARDIAN = map(_table, (Pickup, PickupEvent, Child, Guardian))
INSTALLATION, ATTENDANCE, LINK, GROUP = map(
    _table, (Installation, Attendance, ChildGuardian, Group)
)
POSITION = _table(TripPosition)
EMERGENCY = _table(Emergency)


@dataclass(frozen=True)
class Actor:
    """Who caused a transition, for the release log."""

    kind: ActorKind
    id: int | None
    name: str
    device: str = ""


SYSTEM = Actor(ActorKind.SYSTEM, None, "Relais")


@dataclass(frozen=True)
class Written:
    """What a write left: the pickup as boards show it, the installation's event number of
    the change (None: nothing changed) and the event to publish after the commit."""

    row: PickupRow
    installation_id: int
    timezone: str
    seq: int | None
    events: tuple[BoardEvent, ...] = ()
    updated_at: datetime | None = None  # when it changed (None: it did not)

    @property
    def changed(self) -> bool:
        return self.seq is not None


# -- reads -----------------------------------------------------------------------------------

# A GPS pickup's latest position (an index lookup on trip_position.pickup_id; none for an
# arrival by time).
LAST_FIX = (
    select(func.max(POSITION.c.at)).where(POSITION.c.pickup_id == PICKUP.c.id).scalar_subquery()
)

# A pickup as boards show it, with the facts a transition needs; `organization_id` filters it
# so another organization's id reads as unknown.
_PICKUP_ROW = (
    select(
        PICKUP.c.id,
        PICKUP.c.status,
        PICKUP.c.mode,
        PICKUP.c.child_id,
        CHILD.c.group_id,
        CHILD.c.first_name,
        CHILD.c.last_name,
        GUARDIAN.c.first_name,
        GUARDIAN.c.last_name,
        PICKUP.c.eta,
        PICKUP.c.announce_at,
        PICKUP.c.gps_minutes,
        PICKUP.c.announced_at,
        PICKUP.c.day,
        PICKUP.c.installation_id,
        INSTALLATION.c.timezone,
        PICKUP.c.organization_id,
        PICKUP.c.guardian_id,
        CHILD.c.photo,
        GUARDIAN.c.photo,
        PICKUP.c.dismiss_reason,
        LAST_FIX,
    )
    .join(CHILD, CHILD.c.id == PICKUP.c.child_id)
    .join(GUARDIAN, GUARDIAN.c.id == PICKUP.c.guardian_id)
    .join(INSTALLATION, INSTALLATION.c.id == PICKUP.c.installation_id)
    .where(PICKUP.c.id == bindparam("pickup_id"))
)
_PICKUP_ROW_IN_ORG = _PICKUP_ROW.where(PICKUP.c.organization_id == bindparam("organization_id"))


class Found(NamedTuple):
    """A pickup as read at the start of a transition."""

    row: PickupRow
    installation_id: int
    timezone: str
    organization_id: int


def _row(values: Any) -> Found:
    (pid, status, mode, child_id, group_id, child_first, child_last) = values[:7]
    (guardian_first, guardian_last, eta, announce_at, gps_minutes, announced_at) = values[7:13]
    day, installation_id, timezone, organization_id = values[13:17]
    guardian_id, child_photo, guardian_photo, reason, last_fix_at = values[17:22]
    row = PickupRow(
        id=pid,
        status=status,
        mode=mode,
        child_id=child_id,
        group_id=group_id,
        child_name=f"{child_first} {child_last}",
        guardian_name=f"{guardian_first} {guardian_last}",
        eta=eta,
        announce_at=announce_at,
        gps_minutes=gps_minutes,
        announced_at=announced_at,
        day=day,
        guardian_id=guardian_id,
        child_photo=child_photo,
        guardian_photo=guardian_photo,
        reason=reason,
        last_fix_at=last_fix_at,
    )
    return Found(row, installation_id, timezone, organization_id)


def read_pickup(
    conn: Connection, pickup_id: int, organization_id: int | None = None
) -> Found | None:
    """The pickup, or None when unknown (or another organization's)."""
    if organization_id is None:
        found = conn.execute(_PICKUP_ROW, {"pickup_id": pickup_id}).first()
    else:
        found = conn.execute(
            _PICKUP_ROW_IN_ORG, {"pickup_id": pickup_id, "organization_id": organization_id}
        ).first()
    return None if found is None else _row(found)


# -- the pieces of every transition ----------------------------------------------------------

_LOG = insert(PICKUP_EVENT)
_FORGET_POSITIONS = delete(POSITION).where(POSITION.c.pickup_id == bindparam("ended_pickup"))
_CHECK_OUT = (
    update(ATTENDANCE)
    .where(
        ATTENDANCE.c.child_id == bindparam("departing_child"),
        ATTENDANCE.c.day == bindparam("today"),
        ATTENDANCE.c.checked_out_at.is_(None),
    )
    .values(checked_out_at=bindparam("now"))
)
# An undone departure: the child is checked in again (today's line, as it was).
_CHECK_BACK_IN = (
    update(ATTENDANCE)
    .where(
        ATTENDANCE.c.child_id == bindparam("departing_child"),
        ATTENDANCE.c.day == bindparam("today"),
        ATTENDANCE.c.checked_out_at.is_not(None),
    )
    .values(checked_out_at=None)
)
_CHILD_NAMES = select(CHILD.c.first_name, CHILD.c.last_name).where(
    CHILD.c.id == bindparam("child_id")
)


@dataclass(frozen=True)
class Note:
    """What a release-log line says beyond who and when: the adult a departing child was
    handed to, a dismissal's reason, the line an undo took back."""

    handed_to_id: int | None = None
    handed_to_name: str = ""
    reason: str | None = None
    undo_of: int | None = None

    def values(self) -> dict[str, Any]:
        return {
            "handed_to_id": self.handed_to_id,
            "handed_to_name": self.handed_to_name[:200],
            "reason": self.reason,
            "undo_of": self.undo_of,
        }


NO_NOTE = Note()


def log_line(
    conn: Connection,
    *,
    pickup_id: int,
    installation_id: int,
    from_status: str | None,
    to_status: str,
    actor: Actor,
    now: datetime,
    note: Note = NO_NOTE,
) -> None:
    """The release log's line for one transition (append-only)."""
    conn.execute(
        _LOG,
        {
            "pickup_id": pickup_id,
            "installation_id": installation_id,
            "from_status": from_status,
            "to_status": to_status,
            "at": now,
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "actor_name": actor.name[:200],
            "device": actor.device[:300],
            **note.values(),
        },
    )


def forget_positions(conn: Connection, pickup_id: int) -> None:
    """GPS positions are kept only while the trip lasts: called when a pickup is over."""
    conn.execute(_FORGET_POSITIONS, {"ended_pickup": pickup_id})


def pickup_event(
    installation_id: int,
    seq: int,
    row: PickupRow,
    *,
    chime: bool = False,
    child: ChildRow | None = None,
    moved_by: str = "",
) -> BoardEvent:
    """The event for a change of `row`, carrying it (and the child's line, on a departure);
    `moved_by`: who moved it to its status, when the change is a step."""
    groups = (child.group_id,) if child is not None else ()
    return BoardEvent(
        installation_id,
        seq,
        "pickup",
        groups=groups,
        chime=chime,
        pickup_id=row.id,
        children=(row.child_id,),
        pickup=row,
        child=child,
        moved_by=moved_by,
    )


# -- transitions -----------------------------------------------------------------------------


def _move_statement(target: PickupStatus) -> Any:
    values: dict[str, Any] = {
        "status": target,
        "updated_at": bindparam("now"),
        "dismiss_reason": bindparam("dismissing"),
    }
    if target == S.ANNOUNCED:
        values["announced_at"] = bindparam("now")
    return (
        update(PICKUP)
        .where(
            PICKUP.c.id == bindparam("moving_pickup"),
            PICKUP.c.organization_id == bindparam("organization"),
            PICKUP.c.status == bindparam("expected"),
        )
        .values(**values)
        .returning(PICKUP.c.updated_at, PICKUP.c.announced_at)
    )


# One compare-and-set per target status, built once.
_MOVE = {target: _move_statement(target) for target in S}

# PostgreSQL: the compare-and-set, its log line and the event number in one round trip.
_MOVE_LOG_NUMBER = (
    text(
        """
        WITH moved AS (
            UPDATE pickup SET status = :target, updated_at = :now, dismiss_reason = :dismissing,
                announced_at = CASE WHEN :announcing THEN :now ELSE announced_at END
            WHERE id = :moving_pickup AND organization_id = :organization
                AND status = :expected
            RETURNING id, installation_id, updated_at, announced_at
        ), logged AS (
            INSERT INTO pickup_event (pickup_id, installation_id, from_status, to_status, at,
                                      actor_kind, actor_id, actor_name, device,
                                      handed_to_id, handed_to_name, reason, undo_of)
            SELECT id, installation_id, :expected, :target, :now,
                   :actor_kind, :actor_id, :actor_name, :device,
                   :handed_to_id, :handed_to_name, :reason, :undo_of
            FROM moved
        ), numbered AS (
            UPDATE installation SET event_seq = event_seq + 1
            WHERE id = (SELECT installation_id FROM moved)
            RETURNING event_seq
        )
        SELECT moved.updated_at, moved.announced_at, numbered.event_seq
        FROM moved, numbered
        """
    )
    .bindparams(
        bindparam("now", type_=UTCDateTime),
        bindparam("actor_id", type_=Integer),
        bindparam("handed_to_id", type_=Integer),
        bindparam("undo_of", type_=Integer),
        bindparam("reason", type_=String),
        bindparam("dismissing", type_=String),
    )
    .columns(updated_at=UTCDateTime, announced_at=UTCDateTime, event_seq=Integer)
)


def _move_log_number(
    conn: Connection,
    found: Found,
    target: PickupStatus,
    actor: Actor,
    now: datetime,
    note: Note = NO_NOTE,
) -> tuple[datetime, datetime | None, int] | None:
    """(updated at, announced at, event number) once moved, logged and numbered; None when
    the compare-and-set lost (on the status read, and the organization: another's pickup
    never moves). One statement on PostgreSQL, three elsewhere."""
    row, installation_id = found.row, found.installation_id
    dismissing = note.reason if target == S.DISMISSED else None
    if conn.dialect.name == "postgresql":
        moved = conn.execute(
            _MOVE_LOG_NUMBER,
            {
                "target": target.value,
                "now": now,
                "dismissing": dismissing,
                "announcing": target == S.ANNOUNCED,
                "moving_pickup": row.id,
                "organization": found.organization_id,
                "expected": row.status,
                "actor_kind": actor.kind.value,
                "actor_id": actor.id,
                "actor_name": actor.name[:200],
                "device": actor.device[:300],
                **note.values(),
            },
        ).first()
        return None if moved is None else (moved[0], moved[1], int(moved[2]))
    returned = conn.execute(
        _MOVE[target],
        {
            "moving_pickup": row.id,
            "organization": found.organization_id,
            "expected": row.status,
            "now": now,
            "dismissing": dismissing,
        },
    ).first()
    if returned is None:
        return None
    updated_at, announced_at = returned
    log_line(
        conn,
        pickup_id=row.id,
        installation_id=installation_id,
        from_status=row.status,
        to_status=target,
        actor=actor,
        now=now,
        note=note,
    )
    return updated_at, announced_at, next_seq(conn, installation_id)


def transition(
    conn: Connection,
    found: Found,
    *,
    target: PickupStatus,
    actor: Actor,
    now: datetime,
    chime: bool = False,
    note: Note = NO_NOTE,
) -> Written:
    """Move the pickup `found` (as read in this transaction) to `target`, compare-and-set on
    the status it was read with. Lost race: `seq` None, the row re-read as it now stands.

    The compare-and-set, its log line, the departure's check-out (or, undone, the child
    back in), forgetting positions and the event number all happen in the caller's
    transaction: they commit together. A staff step or a dismissal carries the offer to
    undo it; an undo's event is quiet (the alert that comes back is not a new one)."""
    row, installation_id, timezone, _organization = found
    moved = _move_log_number(conn, found, target, actor, now, note)
    if moved is None:
        current = read_pickup(conn, row.id)
        assert current is not None  # pickups are never deleted
        return Written(current[0], installation_id, timezone, None)
    updated_at, announced_at, seq = moved
    new_row = replace(
        row,
        status=target.value,
        announced_at=announced_at,
        reason=note.reason if target == S.DISMISSED else None,
    )
    child: ChildRow | None = None
    if target == S.DEPARTED or row.status == S.DEPARTED:
        back = row.status == S.DEPARTED  # an undone departure: the child is here again
        day = rules.local_day(now, timezone)
        conn.execute(
            _CHECK_BACK_IN if back else _CHECK_OUT,
            {"departing_child": row.child_id, "today": day, "now": now},
        )
        first, last = conn.execute(_CHILD_NAMES, {"child_id": row.child_id}).one()
        child = ChildRow(row.child_id, first, last, row.group_id, present=back, departed=not back)
    if target in rules.FINAL:
        forget_positions(conn, row.id)
    event = pickup_event(
        installation_id, seq, new_row, chime=chime, child=child, moved_by=actor.kind.value
    )
    if note.undo_of is not None:
        event = replace(event, quiet=True)
    elif actor.kind == ActorKind.STAFF and (S(row.status), target) in rules.UNDOABLE:
        until = rules.undo_deadline(now).timestamp()
        event = replace(event, undo_from=row.status, undo_until=until)
    return Written(new_row, installation_id, timezone, seq, (event,), updated_at)


def staff_step(
    conn: Connection,
    *,
    pickup_id: int,
    organization_id: int,
    target: PickupStatus,
    expected: PickupStatus | None,
    actor: Actor,
    now: datetime,
    handed_to: int | None = None,
) -> Written | None:
    """A staff button (Appeler, Prêt, Départ) or the API's status call; None: no such pickup
    in this organization.

    With `expected` (the board's buttons) a lost race is not an error: nothing changes and
    the current row comes back. Without it (the API) the step must be the next one, or
    RuleError(NOT_NEXT_STEP). A departure records the adult the child was handed to:
    `handed_to` (a guardian or authorized person of the child, else RuleError(NOT_FAMILY)),
    by default the one who announced."""
    found = read_pickup(conn, pickup_id, organization_id)
    if found is None:
        return None
    row, installation_id, timezone, _organization = found
    if expected is not None and row.status != expected:
        return Written(row, installation_id, timezone, None)
    rules.check_staff_step(row.status, target)
    note = NO_NOTE
    if target == S.DEPARTED:
        adult = conn.execute(
            _FAMILY_ADULT,
            {
                "child_id": row.child_id,
                "adult_id": row.guardian_id if handed_to is None else handed_to,
                "organization_id": found.organization_id,
            },
        ).first()
        if adult is None:
            raise RuleError(Refusal.NOT_FAMILY)
        note = Note(handed_to_id=adult[0], handed_to_name=f"{adult[1]} {adult[2]}")
    written = transition(conn, found, target=target, actor=actor, now=now, note=note)
    if not written.changed and expected is None:
        raise RuleError(Refusal.NOT_NEXT_STEP, current=written.row.status, target=target)
    return written


# An adult a child may be handed to: one of its guardians or authorized persons.
_FAMILY_ADULT = (
    select(GUARDIAN.c.id, GUARDIAN.c.first_name, GUARDIAN.c.last_name)
    .join(LINK, LINK.c.guardian_id == GUARDIAN.c.id)
    .where(
        LINK.c.child_id == bindparam("child_id"),
        GUARDIAN.c.id == bindparam("adult_id"),
        GUARDIAN.c.organization_id == bindparam("organization_id"),
    )
)


def dismiss(
    conn: Connection,
    *,
    pickup_id: int,
    organization_id: int,
    reason: str,
    expected: PickupStatus,
    actor: Actor,
    now: datetime,
) -> Written | None:
    """Staff remove an alert from the boards, with a reason the parent is told; None: no
    such pickup here. Compare-and-set on `expected`: a lost race changes nothing."""
    found = read_pickup(conn, pickup_id, organization_id)
    if found is None:
        return None
    row, installation_id, timezone, _organization = found
    if row.status != expected:
        return Written(row, installation_id, timezone, None)
    known = rules.check_dismiss(row.status, reason)
    return transition(
        conn, found, target=S.DISMISSED, actor=actor, now=now, note=Note(reason=known.value)
    )


_LAST_LINE = (
    select(
        PICKUP_EVENT.c.id,
        PICKUP_EVENT.c.from_status,
        PICKUP_EVENT.c.to_status,
        PICKUP_EVENT.c.at,
        PICKUP_EVENT.c.actor_kind,
        PICKUP_EVENT.c.undo_of,
    )
    .where(PICKUP_EVENT.c.pickup_id == bindparam("pickup_id"))
    .order_by(PICKUP_EVENT.c.id.desc())
    .limit(1)
)
_OTHER_LIVE = select(PICKUP.c.id).where(
    PICKUP.c.child_id == bindparam("child_id"),
    PICKUP.c.status.in_(rules.LIVE),
    PICKUP.c.id != bindparam("pickup_id"),
)


def undo(
    conn: Connection,
    *,
    pickup_id: int,
    organization_id: int,
    expected: PickupStatus,
    actor: Actor,
    now: datetime,
) -> Written | None:
    """« Annuler »: take back the pickup's last step (a staff step or a dismissal) within
    the undo window, a transition back to the status it left, compare-and-set on `expected`
    (a lost race changes nothing). None: no such pickup here; RuleError when the rules
    refuse (nothing to undo, too late)."""
    found = read_pickup(conn, pickup_id, organization_id)
    if found is None:
        return None
    row, installation_id, timezone, _organization = found
    if row.status != expected:
        return Written(row, installation_id, timezone, None)
    last = conn.execute(_LAST_LINE, {"pickup_id": pickup_id}).first()
    logged = (
        None
        if last is None
        else rules.LoggedStep(
            from_status=last.from_status,
            to_status=last.to_status,
            at=last.at,
            by_staff=last.actor_kind == ActorKind.STAFF,
            is_undo=last.undo_of is not None,
        )
    )
    target = rules.undo_target(row.status, logged, now)
    assert last is not None
    if target in rules.LIVE and row.status not in rules.LIVE:
        # Live again: not if the child got another live pickup meanwhile (one at most).
        other = conn.execute(_OTHER_LIVE, {"child_id": row.child_id, "pickup_id": row.id})
        if other.first() is not None:
            raise RuleError(Refusal.NOT_UNDOABLE, current=row.status)
    return transition(conn, found, target=target, actor=actor, now=now, note=Note(undo_of=last.id))


# -- announcing ------------------------------------------------------------------------------

# The installation's local day is not known before reading its zone: the read takes the
# attendance of the three days around UTC's and keeps the local one (unique per child and day).
_NEAR_DAYS = ATTENDANCE.c.day.in_(bindparam("days", expanding=True))
# Everything the rules need to accept an announcement, in one read.
_ANNOUNCE_FACTS = (
    select(
        CHILD.c.organization_id,
        CHILD.c.installation_id,
        CHILD.c.group_id,
        CHILD.c.first_name,
        CHILD.c.last_name,
        CHILD.c.pickup_enabled,
        CHILD.c.agreement_active,
        CHILD.c.active,
        CHILD.c.pending_photo,
        GUARDIAN.c.organization_id,
        GUARDIAN.c.first_name,
        GUARDIAN.c.last_name,
        GUARDIAN.c.pending_photo,
        ATTENDANCE.c.day,
        ATTENDANCE.c.checked_out_at,
        exists()
        .where(LINK.c.child_id == CHILD.c.id, LINK.c.guardian_id == GUARDIAN.c.id)
        .label("is_guardian"),
        exists()
        .where(PICKUP.c.child_id == CHILD.c.id, PICKUP.c.status.in_(rules.LIVE))
        .label("has_live"),
        INSTALLATION.c.timezone,
        INSTALLATION.c.preparation_minutes,
        INSTALLATION.c.call_window_start,
        INSTALLATION.c.call_window_end,
        CHILD.c.photo,
        GUARDIAN.c.photo,
    )
    .select_from(CHILD)
    .join(GUARDIAN, GUARDIAN.c.id == bindparam("guardian_id"))
    .join(INSTALLATION, INSTALLATION.c.id == CHILD.c.installation_id)
    .outerjoin(ATTENDANCE, and_(ATTENDANCE.c.child_id == CHILD.c.id, _NEAR_DAYS))
    .where(CHILD.c.id == bindparam("child_id"))
)
_INSERT_PICKUP = insert(PICKUP).returning(PICKUP.c.id)
# PostgreSQL: the new pickup, its first log line and the event number in one round trip.
_CREATE_LOG_NUMBER = (
    text(
        """
        WITH created AS (
            INSERT INTO pickup (organization_id, installation_id, child_id, guardian_id, day,
                                mode, status, eta, announce_at, gps_minutes, created_at,
                                updated_at, announced_at)
            VALUES (:organization_id, :installation_id, :child_id, :guardian_id, :day,
                    :mode, :status, :eta, :announce_at, :gps_minutes, :created_at,
                    :updated_at, :announced_at)
            RETURNING id, installation_id, status, created_at
        ), logged AS (
            INSERT INTO pickup_event (pickup_id, installation_id, from_status, to_status, at,
                                      actor_kind, actor_id, actor_name, device)
            SELECT id, installation_id, NULL, status, created_at,
                   :actor_kind, :actor_id, :actor_name, :device
            FROM created
        ), numbered AS (
            UPDATE installation SET event_seq = event_seq + 1
            WHERE id = (SELECT installation_id FROM created)
            RETURNING event_seq
        )
        SELECT created.id, numbered.event_seq FROM created, numbered
        """
    )
    .bindparams(
        bindparam("day", type_=Date),
        bindparam("eta", type_=UTCDateTime),
        bindparam("announce_at", type_=UTCDateTime),
        bindparam("gps_minutes", type_=Integer),
        bindparam("created_at", type_=UTCDateTime),
        bindparam("updated_at", type_=UTCDateTime),
        bindparam("announced_at", type_=UTCDateTime),
        bindparam("actor_id", type_=Integer),
    )
    .columns(id=Integer, event_seq=Integer)
)


def _create_log_number(conn: Connection, values: dict[str, Any], actor: Actor) -> tuple[int, int]:
    """(new pickup id, event number) once inserted, logged and numbered. One statement on
    PostgreSQL, three elsewhere. IntegrityError when the child already has a live pickup."""
    who = {
        "actor_kind": actor.kind.value,
        "actor_id": actor.id,
        "actor_name": actor.name[:200],
        "device": actor.device[:300],
    }
    if conn.dialect.name == "postgresql":
        created = conn.execute(_CREATE_LOG_NUMBER, values | who).one()
        return int(created[0]), int(created[1])
    pickup_id = int(conn.execute(_INSERT_PICKUP, values).scalar_one())
    installation_id = int(values["installation_id"])
    log_line(
        conn,
        pickup_id=pickup_id,
        installation_id=installation_id,
        from_status=None,
        to_status=values["status"],
        actor=actor,
        now=values["created_at"],
    )
    return pickup_id, next_seq(conn, installation_id)


# A real emergency (not a drill) under way at the installation: announcements skip the call
# window and the preparation time (server/emergency/). One indexed lookup.
REAL_EMERGENCY = select(
    exists().where(
        EMERGENCY.c.installation_id == bindparam("emergency_installation"),
        EMERGENCY.c.ended_at.is_(None),
        EMERGENCY.c.drill.is_(False),
    )
)


def announce_eta(
    conn: Connection,
    *,
    child_id: int,
    guardian_id: int,
    arrival: time,
    actor: Actor,
    now: datetime,
    emergency: bool = False,
) -> Written:
    """A guardian announces an arrival time for a child (ids already checked to belong to the
    caller's organization). RuleError when the rules refuse, nothing written. During a real
    emergency closure there (`emergency`, else looked up), no call window, no preparation
    time: the alert is on the board at once, whoever announces (parent page or API)."""
    utc_day = now.astimezone(UTC).date()
    days = [utc_day - timedelta(days=1), utc_day, utc_day + timedelta(days=1)]
    rows = conn.execute(
        _ANNOUNCE_FACTS, {"child_id": child_id, "guardian_id": guardian_id, "days": days}
    ).all()
    if not rows:
        raise RuleError(Refusal.NOT_GUARDIAN)  # the caller checked both ids: not reached
    timezone = rows[0].timezone
    day = rules.local_day(now, timezone)
    facts = next((r for r in rows if r[13] == day), None) or rows[0]
    (child_org, installation_id, group_id, child_first, child_last) = facts[:5]
    (pickup_enabled, agreement_active, active, child_pending) = facts[5:9]
    (guardian_org, guardian_first, guardian_last, guardian_pending) = facts[9:13]
    (attendance_day, checked_out_at, is_guardian, has_live) = facts[13:17]
    (_tz, preparation_minutes, window_start, window_end) = facts[17:21]
    (child_photo, guardian_photo) = facts[21:23]
    attended = attendance_day == day
    rules.check_can_announce(
        rules.AnnounceFacts(
            pickup_enabled=bool(pickup_enabled and agreement_active and active),
            present=attended and checked_out_at is None,
            departed_today=attended and checked_out_at is not None,
            photo_pending=child_pending is not None or guardian_pending is not None,
            has_live_pickup=bool(has_live),
            is_guardian=bool(is_guardian) and guardian_org == child_org,
        )
    )
    # A real emergency closure there (not a drill): no call window, no preparation time.
    emergency = emergency or bool(
        conn.execute(REAL_EMERGENCY, {"emergency_installation": installation_id}).scalar()
    )
    plan = rules.plan_eta(
        now, arrival, timezone, preparation_minutes, window_start, window_end, emergency=emergency
    )
    announced_at = now if plan.status == S.ANNOUNCED else None
    values = {
        "organization_id": child_org,
        "installation_id": installation_id,
        "child_id": child_id,
        "guardian_id": guardian_id,
        "day": day,
        "mode": PickupMode.ETA.value,
        "status": plan.status.value,
        "eta": plan.eta,
        "announce_at": plan.announce_at,
        "gps_minutes": None,
        "created_at": now,
        "updated_at": now,
        "announced_at": announced_at,
    }
    try:
        pickup_id, seq = _create_log_number(conn, values, actor)
    except IntegrityError as exc:
        # The partial unique index caught a second live pickup for the same child (a double
        # tap, or two guardians at once).
        raise RuleError(Refusal.ALREADY_ANNOUNCED) from exc
    row = PickupRow(
        id=pickup_id,
        status=plan.status.value,
        mode=PickupMode.ETA.value,
        child_id=child_id,
        group_id=group_id,
        child_name=f"{child_first} {child_last}",
        guardian_name=f"{guardian_first} {guardian_last}",
        eta=plan.eta,
        announce_at=plan.announce_at,
        gps_minutes=None,
        announced_at=announced_at,
        day=day,
        guardian_id=guardian_id,
        child_photo=child_photo,
        guardian_photo=guardian_photo,
    )
    event = pickup_event(installation_id, seq, row, chime=plan.status == S.ANNOUNCED)
    return Written(row, installation_id, timezone, seq, (event,), now)


def cancel(conn: Connection, pickup_id: int, *, actor: Actor, now: datetime) -> Written:
    """The parent cancels (or the child is marked absent): any live state → cancelled."""
    found = read_pickup(conn, pickup_id)
    assert found is not None  # the caller holds the pickup
    if not rules.can_cancel(found[0].status):
        raise RuleError(Refusal.FINISHED, current=found[0].status)
    written = transition(conn, found, target=S.CANCELLED, actor=actor, now=now)
    if not written.changed:
        raise RuleError(Refusal.FINISHED, current=written.row.status)
    return written


def step_from(
    conn: Connection,
    pickup_id: int,
    *,
    expected: PickupStatus,
    target: PickupStatus,
    now: datetime,
    actor: Actor = SYSTEM,
    chime: bool = False,
) -> Written | None:
    """A transition no button asked for (an alert comes due, a GPS trip comes near, the day
    ends), made once even with several workers racing: None when the pickup is no longer in
    `expected`."""
    found = read_pickup(conn, pickup_id)
    if found is None or found[0].status != expected:
        return None
    written = transition(conn, found, target=target, actor=actor, now=now, chime=chime)
    return written if written.changed else None


def event_for(conn: Connection, pickup_id: int, *, chime: bool = False) -> BoardEvent:
    """The event for a pickup changed by other statements of this transaction (a new arrival
    time, a GPS estimate): its row as it now stands, numbered in its installation's sequence."""
    found = read_pickup(conn, pickup_id)
    assert found is not None
    row, installation_id = found.row, found.installation_id
    return pickup_event(installation_id, next_seq(conn, installation_id), row, chime=chime)
