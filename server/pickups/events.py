"""Board events: the small messages that cross the broker. They say *what changed* and carry
the changed rows, so each worker applies the change to the board it holds and renders it for
the views its own boards watch, without reading the database again. An event without rows
(a roster import, a photo decision) tells a worker to reload that installation's board."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ..core.models import Installation


def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class PickupRow:
    """A pickup as boards and family pages show it, after the change."""

    id: int
    status: str
    mode: str
    child_id: int
    group_id: int  # the child's group now: an alert follows a child moved to another group
    child_name: str
    guardian_name: str
    eta: datetime | None
    announce_at: datetime | None
    gps_minutes: int | None
    announced_at: datetime | None
    day: date
    # Who announced (guardian or authorized person) and the approved photos (stored names,
    # None: no photo), so staff can check who takes whom; a dismissal's reason.
    guardian_id: int = 0
    child_photo: str | None = None
    guardian_photo: str | None = None
    reason: str | None = None
    # GPS: the instant of the latest position kept (None: none, or not a GPS pickup), so
    # boards can say how old the minutes they show are.
    last_fix_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("eta", "announce_at", "announced_at", "last_fix_at"):
            data[key] = None if data[key] is None else data[key].isoformat()
        data["day"] = self.day.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PickupRow:
        return cls(
            id=int(data["id"]),
            status=str(data["status"]),
            mode=str(data["mode"]),
            child_id=int(data["child_id"]),
            group_id=int(data["group_id"]),
            child_name=str(data["child_name"]),
            guardian_name=str(data["guardian_name"]),
            eta=_instant(data["eta"]),
            announce_at=_instant(data["announce_at"]),
            gps_minutes=None if data["gps_minutes"] is None else int(data["gps_minutes"]),
            announced_at=_instant(data["announced_at"]),
            day=date.fromisoformat(data["day"]),
            guardian_id=int(data.get("guardian_id") or 0),
            child_photo=data.get("child_photo"),
            guardian_photo=data.get("guardian_photo"),
            reason=data.get("reason"),
            last_fix_at=_instant(data.get("last_fix_at")),
        )


@dataclass(frozen=True)
class ChildRow:
    """A child's line on the board, after the change (check-in, departure, move)."""

    id: int
    first_name: str
    last_name: str
    group_id: int
    present: bool
    departed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChildRow:
        return cls(
            id=int(data["id"]),
            first_name=str(data["first_name"]),
            last_name=str(data["last_name"]),
            group_id=int(data["group_id"]),
            present=bool(data["present"]),
            departed=bool(data["departed"]),
        )


@dataclass(frozen=True)
class BoardEvent:
    installation_id: int
    seq: int
    kind: str  # "pickup" | "attendance" | "child_moved" | anything else: reload
    # Group sections whose children changed (check-in, departure, a move between groups).
    groups: tuple[int, ...] = ()
    # A new alert reached the board: boards that show it, with sound on, chime.
    chime: bool = False
    pickup_id: int | None = None
    # The children concerned, when known: a parent's page re-renders only for its own.
    # Empty means "unknown": every page of the installation re-renders.
    children: tuple[int, ...] = ()
    # Wall-clock instant (Unix seconds) the change committed, stamped just before publishing.
    # Not behaviour: boards carry it so latency can be measured from commit to screen.
    committed_at: float = 0.0
    # The rows the change left, when the writer knows them: a held board applies them.
    # Neither: the board cannot be patched, and is reloaded from the database.
    pickup: PickupRow | None = None
    child: ChildRow | None = None
    # A staff step or a dismissal that can be undone: the status an undo returns to, and
    # until when (Unix seconds, on the server's clock). Boards offer « Annuler » meanwhile.
    undo_from: str | None = None
    undo_until: float = 0.0
    # An undo: the alert that comes back is not new, boards do not chime for it.
    quiet: bool = False
    # Set when the change moved the pickup to another status (not a new time or position):
    # who moved it (an ActorKind value: "staff", "guardian", "system"…). A parent's phone is
    # told of a step, once, by the worker that made it (server/push/).
    moved_by: str = ""

    @property
    def has_rows(self) -> bool:
        return self.pickup is not None or self.child is not None

    def to_json(self) -> str:
        return json.dumps(
            {
                "i": self.installation_id,
                "s": self.seq,
                "k": self.kind,
                "g": list(self.groups),
                "c": self.chime,
                "p": self.pickup_id,
                "ch": list(self.children),
                "at": self.committed_at,
                "pr": None if self.pickup is None else self.pickup.to_dict(),
                "cr": None if self.child is None else self.child.to_dict(),
                "u": self.undo_from,
                "ut": self.undo_until,
                "q": self.quiet,
                "mb": self.moved_by,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> BoardEvent:
        data = json.loads(raw)
        return cls(
            installation_id=int(data["i"]),
            seq=int(data["s"]),
            kind=str(data["k"]),
            groups=tuple(int(g) for g in data["g"]),
            chime=bool(data["c"]),
            pickup_id=None if data.get("p") is None else int(data["p"]),
            children=tuple(int(c) for c in data.get("ch", ())),
            committed_at=float(data.get("at", 0.0)),
            pickup=None if data.get("pr") is None else PickupRow.from_dict(data["pr"]),
            child=None if data.get("cr") is None else ChildRow.from_dict(data["cr"]),
            undo_from=data.get("u"),
            undo_until=float(data.get("ut") or 0.0),
            quiet=bool(data.get("q", False)),
            moved_by=str(data.get("mb", "")),
        )


_INSTALLATION = cast(Table, inspect(Installation).local_table)
# Built once, on the table: this runs in every transaction that changes a board. (The bound
# name is not a column's: SQLAlchemy keeps those for the SET clause.)
_NEXT_SEQ = (
    update(_INSTALLATION)
    .where(_INSTALLATION.c.id == bindparam("numbered_installation"))
    .values(event_seq=_INSTALLATION.c.event_seq + 1)
    .returning(_INSTALLATION.c.event_seq)
)


def take_seq(conn: Connection, installation_id: int) -> int:
    """Take the installation's next event number inside the caller's transaction.

    An atomic UPDATE … RETURNING: two workers never get the same number, and the number
    commits (or rolls back) with the change it describes."""
    return int(conn.execute(_NEXT_SEQ, {"numbered_installation": installation_id}).scalar_one())


def note_seq(session: AsyncSession, installation_id: int, seq: int) -> None:
    """An Installation this session already loaded must show its new number (a board answer
    renders it as its seq); a plain UPDATE does not touch loaded objects by itself."""
    sync = session.sync_session
    loaded = sync.identity_map.get(sync.identity_key(Installation, installation_id))
    if loaded is not None:
        set_committed_value(loaded, "event_seq", seq)


async def next_seq(session: AsyncSession, installation_id: int) -> int:
    """`take_seq` inside an ORM session's transaction."""
    result = await session.execute(_NEXT_SEQ, {"numbered_installation": installation_id})
    seq = int(result.scalar_one())
    note_seq(session, installation_id, seq)
    return seq
