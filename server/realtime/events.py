"""Board events: the small messages that cross the broker. They say *what changed*, not how it
looks; each worker renders the change for the views its own boards watch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ..models import Installation


@dataclass(frozen=True)
class BoardEvent:
    installation_id: int
    seq: int
    kind: str  # "pickup" | "attendance" | "child_moved"
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
        )


_INSTALLATION = cast(Table, inspect(Installation).local_table)
# Built once, on the table: this runs in every transaction that changes a board.
_NEXT_SEQ = (
    update(_INSTALLATION)
    .where(_INSTALLATION.c.id == bindparam("installation_id"))
    .values(event_seq=_INSTALLATION.c.event_seq + 1)
    .returning(_INSTALLATION.c.event_seq)
)


async def next_seq(session: AsyncSession, installation_id: int) -> int:
    """Take the installation's next event number inside the caller's transaction.

    An atomic UPDATE … RETURNING: two workers never get the same number, and the number
    commits (or rolls back) with the change it describes.
    """
    seq = int((await session.execute(_NEXT_SEQ, {"installation_id": installation_id})).scalar_one())
    # An Installation this session already loaded must show the new number (a board answer
    # renders it as its seq); the plain UPDATE does not touch loaded objects by itself.
    loaded = session.sync_session.identity_map.get(
        session.sync_session.identity_key(Installation, installation_id)
    )
    if loaded is not None:
        set_committed_value(loaded, "event_seq", seq)
    return seq
