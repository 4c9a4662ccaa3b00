"""Board messages: HTML fragments (out-of-band swaps) wrapped with their sequence number.

One message is rendered per (event, view) and its bytes are shared by every socket of that
view. The same partial templates render the full page, so a fresh load and a live board
show the same markup.
"""

from __future__ import annotations

import json

from ..i18n import use_locale
from ..pickups.board import BoardState, ViewKey
from ..pickups.events import BoardEvent
from ..pickups.family import FamilyState, FamilyView
from ..templating import render


def _content(state: BoardState, view: ViewKey, section_ids: set[int] | None) -> str:
    """section_ids None: the whole sections container (a snapshot)."""
    sections = [s for s in state.sections if section_ids is None or s.group_id in section_ids]
    with use_locale(view.locale):
        return render(
            "board/_oob.html",
            state=state,
            view=view,
            sections=sections,
            whole_sections=section_ids is None,
        )


def event_message(
    state: BoardState, view: ViewKey, events: list[BoardEvent], late: bool = False
) -> str:
    """`state` is already narrowed to the view; `events` are consecutive (usually one): the
    message covers seq `from` to `seq`, `at` is the earliest commit among them. `late`: a
    change published after a later one was sent; boards apply it without moving their seq."""
    alerts = {a.pickup_id for a in state.alerts}
    chime = any(e.chime and e.pickup_id in alerts for e in events)
    groups = {g for e in events for g in e.groups}
    message = {
        "seq": events[-1].seq,
        "from": events[0].seq,
        "at": min(e.committed_at for e in events),
        "chime": chime,
        "content": _content(state, view, groups),
    }
    if late:
        message["late"] = True
    return json.dumps(message, ensure_ascii=False)


def snapshot_message(state: BoardState, view: ViewKey) -> str:
    return json.dumps(
        {"seq": state.seq, "snapshot": True, "content": _content(state, view, None)},
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
