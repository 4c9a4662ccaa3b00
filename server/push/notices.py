"""Which changes reach a parent's locked phone, and in which words. Pure: no database, no
network. The payload carries no more than the child's first name and the state (and the two
lines a notification shows, made of those alone, in the subscriber's language)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..core.i18n import _, use_locale
from ..core.models import ActorKind, PickupStatus
from ..pickups.events import BoardEvent

# « En préparation » is sent only to the phones that asked for it.
PREPARING = PickupStatus.CALLED.value
READY = PickupStatus.READY.value
CANCELLED = PickupStatus.CANCELLED.value
DISMISSED = PickupStatus.DISMISSED.value
NOTIFIED = frozenset({PREPARING, READY, CANCELLED, DISMISSED})


@dataclass(frozen=True)
class Notice:
    """A step of one pickup that its announcer's phones are told of. `correction`: staff
    undid a step (within rules.UNDO_WINDOW); every phone gets the state the pickup is back in,
    even « En préparation », since it replaces what the phone showed (one notification per
    child)."""

    pickup_id: int
    state: str
    correction: bool = False


def notices(events: list[BoardEvent]) -> list[Notice]:
    """The steps among `events` worth a notification: « En préparation », « Prêt », an alert
    the daycare cancelled or removed (the parent who cancels knows it already), and an undo
    back to one of those. New times and positions are not steps: they tell nobody."""
    found: list[Notice] = []
    for event in events:
        row = event.pickup
        if row is None or not event.moved_by or row.status not in NOTIFIED:
            continue
        if row.status == CANCELLED and event.moved_by == ActorKind.GUARDIAN.value:
            continue
        found.append(Notice(row.id, row.status, correction=event.quiet))
    return found


def payload(state: str, first_name: str, locale: str) -> bytes:
    """What the phone decrypts: the state and the child's first name, with the notification's
    title and text in the subscriber's language (the service worker shows them as they are)."""
    with use_locale(locale):
        if state == READY:
            title = _("Ready")
            body = _("{name} is ready: you can come in.").format(name=first_name)
        elif state == PREPARING:
            title = _("Being prepared")
            body = _("The daycare is getting {name} ready.").format(name=first_name)
        elif state == DISMISSED:
            title = _("Alert removed")
            body = _("The daycare removed the alert for {name}: open Relais to see why.").format(
                name=first_name
            )
        else:
            title = _("Alert cancelled")
            body = _("The daycare cancelled the alert for {name}.").format(name=first_name)
    message = {"child": first_name, "state": state, "title": title, "body": body}
    return json.dumps(message, ensure_ascii=False).encode()


EMERGENCY = "emergency"


@dataclass(frozen=True)
class EmergencyNotice:
    """A real emergency closure, told to each guardian of a child present (never a drill):
    where, and the assembly point. No child's name: it concerns the whole family."""

    emergency_id: int
    guardian_ids: tuple[int, ...]
    installation: str
    assembly_point: str


def emergency_payload(notice: EmergencyNotice, locale: str) -> bytes:
    """The emergency's notification, in the subscriber's language."""
    with use_locale(locale):
        title = _("Emergency closure")
        if notice.assembly_point:
            body = _("{place}: come for your child. Assembly point: {point}.").format(
                place=notice.installation, point=notice.assembly_point
            )
        else:
            body = _("{place}: come for your child.").format(place=notice.installation)
    message = {"child": "", "state": EMERGENCY, "title": title, "body": body}
    return json.dumps(message, ensure_ascii=False).encode()
