"""Board messages: HTML fragments (out-of-band swaps) wrapped with their sequence number.

One message is rendered per (change, view) and its bytes are shared by every socket of that
view. A change sends only the rows and counters it changed (`board_changes`); a snapshot
sends the whole live region. The same partial templates render the full page, so a fresh
load and a live board show the same markup.
"""

from __future__ import annotations

import json

from ..core import templating
from ..core.i18n import use_locale
from ..core.templating import render
from ..pickups.board import BoardChanges, BoardState, ViewKey
from ..pickups.family import FamilyState, FamilyView
from ..pickups.messages import family_state_label, refusal_text, status_label, step_label
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
)


def change_message(
    state: BoardState,
    view: ViewKey,
    changes: BoardChanges,
    *,
    first: int,
    at: float,
    chime: bool,
) -> str:
    """`state` (narrowed to the view) is the board after the change; `changes` what the
    view shows differently. The message covers seq `first` to `state.seq` (under load, one
    message carries several changes); `at` is the earliest commit among them; `now` lets the
    board count waiting minutes on the server's clock."""
    if changes.empty:
        content = ""
    else:
        with use_locale(view.locale):
            content = render("board/_changes.html", state=state, view=view, changes=changes)
    message = {
        "seq": state.seq,
        "from": first,
        "at": at,
        "now": state.now.isoformat(),
        "chime": chime,
        "content": content,
    }
    return json.dumps(message, ensure_ascii=False)


def snapshot_message(state: BoardState, view: ViewKey) -> str:
    """The view's whole live region (`state` narrowed to it): on (re)connect, on request,
    and when a held board turned out different from the database at the same seq."""
    with use_locale(view.locale):
        content = render("board/_oob.html", state=state, view=view)
    return json.dumps(
        {"seq": state.seq, "snapshot": True, "content": content},
        ensure_ascii=False,
    )


def family_message(state: FamilyState, view: FamilyView) -> str:
    """A parent's page, live: the family region, whole (it is small). `ready` lists the
    children now ready, so the phone rings and vibrates once for each new one."""
    with use_locale(view.locale):
        content = render("parent/_family.html", family=state, oob=True)
    ready = [c.pickup_id for c in state.children if c.state == "ready"]
    return json.dumps({"family": True, "ready": ready, "content": content}, ensure_ascii=False)


def status_message(status: str) -> str:
    """A control message with no content, e.g. the event bus is down ("degraded")."""
    return json.dumps({"status": status})
