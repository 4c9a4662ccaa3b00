"""Board messages: HTML fragments (out-of-band swaps) wrapped with their sequence number.

One message is rendered per (change, view) and its bytes are shared by every socket of that
view. A change sends only the rows and counters it changed (`board_changes`); a snapshot
sends the whole live region. The same partial templates render the full page, so a fresh
load and a live board show the same markup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from ..core import templating
from ..core.i18n import use_locale
from ..core.templating import render
from ..emergency.messages import kind_label as emergency_kind_label
from ..emergency.messages import status_label as roll_status_label
from ..emergency.queries import FamilyNotice, Roll
from ..emergency.rules import UNDO_WINDOW as ROLL_UNDO_WINDOW
from ..pickups.board import BoardChanges, BoardState, ViewKey
from ..pickups.events import BoardEvent
from ..pickups.family import FamilyState, FamilyView
from ..pickups.messages import (
    dismiss_reason_for_parent,
    dismiss_reason_label,
    family_state_label,
    refusal_text,
    status_label,
    step_label,
)
from ..pickups.rules import STAFF_NEXT, STAFF_STEPS

# The board's vocabulary, the same for a full page (web) and a live fragment (here): every
# process that renders a board imports this module (the hub does), so it is registered once.
templating.add_globals(
    status_label=status_label,
    step_label=step_label,
    family_state_label=family_state_label,
    refusal_text=refusal_text,
    STEPS=STAFF_STEPS,
    STAFF_NEXT=STAFF_NEXT,
    dismiss_reason_label=dismiss_reason_label,
    dismiss_reason_for_parent=dismiss_reason_for_parent,
    emergency_kind_label=emergency_kind_label,
    roll_status_label=roll_status_label,
    ROLL_UNDO_WINDOW=ROLL_UNDO_WINDOW,
)


@dataclass(frozen=True)
class UndoOffer:
    """« Annuler » for a step just taken, on every board that shows that child's group."""

    pickup_id: int
    group_id: int
    child_name: str
    status: str  # the status the step led to (what the undo expects to find)
    until: datetime  # on the server's clock


def undo_offers(events: list[BoardEvent], board: BoardState) -> tuple[UndoOffer, ...]:
    """The undo offers among these events: the latest for each pickup, in the group its
    child is in now (a departed child's alert is no longer on the board)."""
    groups = {
        c.child_id: c.group_id for s in board.sections for c in (*s.present, *s.departed, *s.absent)
    }
    offers: dict[int, UndoOffer | None] = {}
    for event in events:
        row = event.pickup
        if row is None:
            continue
        if event.undo_from is None:
            offers[row.id] = None  # any later change of the pickup ends an earlier offer
            continue
        until = datetime.fromtimestamp(event.undo_until, UTC)
        group = groups.get(row.child_id, row.group_id)
        offers[row.id] = UndoOffer(row.id, group, row.child_name, row.status, until)
    return tuple(o for o in offers.values() if o is not None)


def change_message(
    state: BoardState,
    view: ViewKey,
    changes: BoardChanges,
    *,
    first: int,
    at: float,
    chime: bool,
    undos: tuple[UndoOffer, ...] = (),
    settled: tuple[int, ...] = (),
    extra: str = "",
) -> str:
    """`state` (narrowed to the view) is the board after the change; `changes` what the
    view shows differently. The message covers seq `first` to `state.seq` (under load, one
    message carries several changes); `at` is the earliest commit among them; `now` lets the
    board count waiting minutes on the server's clock."""
    content = ""
    with use_locale(view.locale):
        if settled or undos:
            # Offers to undo: an earlier offer for a pickup that changed again is withdrawn.
            content += render(
                "board/_undos.html", state=state, view=view, undos=undos, settled=settled
            )
        if not changes.empty:
            content += render("board/_changes.html", state=state, view=view, changes=changes)
    content += extra  # the emergency roll, when it changed (`emergency_region`)
    message = {
        "seq": state.seq,
        "from": first,
        "at": at,
        "now": state.now.isoformat(),
        "chime": chime,
        "content": content,
    }
    return json.dumps(message, ensure_ascii=False)


def snapshot_message(state: BoardState, view: ViewKey, extra: str = "") -> str:
    """The view's whole live region (`state` narrowed to it): on (re)connect, on request,
    and when a held board turned out different from the database at the same seq. `extra`:
    the emergency region (`emergency_region`), always part of a snapshot."""
    with use_locale(view.locale):
        content = render("board/_oob.html", state=state, view=view) + extra
    return json.dumps(
        {"seq": state.seq, "snapshot": True, "content": content},
        ensure_ascii=False,
    )


def emergency_region(roll: Roll | None, view: ViewKey, now: datetime) -> str:
    """The emergency region of a board (out of band): the roll of the emergency under way,
    or empty when there is none (the board goes back to itself). Every group is on it,
    whatever the board's filter: at the assembly point any tablet checks any child."""
    with use_locale(view.locale):
        return render("board/_emergency.html", roll=roll, view=view, now=now, oob=True)


def family_message(
    state: FamilyState, view: FamilyView, notices: list[FamilyNotice] | None = None
) -> str:
    """A parent's page, live: the family region, whole (it is small). `ready` lists the
    children now ready, so the phone rings and vibrates once for each new one. `notices`,
    when read again (an emergency started or ended): the « Fermeture d'urgence » banners."""
    with use_locale(view.locale):
        content = render("parent/_family.html", family=state, oob=True)
        if notices is not None:
            content += render("parent/_emergency_banner.html", emergencies=notices, oob=True)
    ready = [c.pickup_id for c in state.children if c.state == "ready"]
    return json.dumps({"family": True, "ready": ready, "content": content}, ensure_ascii=False)


def status_message(status: str) -> str:
    """A control message with no content, e.g. the event bus is down ("degraded")."""
    return json.dumps({"status": status})
