"""The words of an emergency, translated where they are shown (kinds, statuses, refusals)."""

from __future__ import annotations

from datetime import timedelta

from ..core.i18n import _, ngettext, pgettext
from ..core.models import EmergencyKind, RollStatus
from .rules import Refusal


def kind_label(kind: str, drill: bool) -> str:
    """« Évacuation », « Exercice d'évacuation » or « Fermeture »."""
    if kind == EmergencyKind.CLOSURE:
        return _("Closure")
    return _("Evacuation drill") if drill else _("Evacuation")


def status_label(status: str) -> str:
    return {
        RollStatus.PENDING: _("Missing"),
        # « Présent » (one child; the board's « Present » column header is « Présents »).
        RollStatus.PRESENT: pgettext("roll", "Present"),
        RollStatus.RELEASED: _("Released"),
    }.get(RollStatus(status), status)


def refusal_message(refusal: Refusal) -> str:
    return {
        Refusal.NOT_ALLOWED: _(
            "Only the director (or reception, when the director allows it) can do this."
        ),
        Refusal.ALREADY_ACTIVE: _("An emergency is already under way at this installation."),
        Refusal.NOT_ACTIVE: _("This emergency has ended."),
        Refusal.DRILL_CLOSURE: _("Only an evacuation can be a drill."),
        Refusal.NO_INSTALLATION: _("Choose at least one installation."),
        Refusal.MESSAGE_TOO_LONG: _("The message is too long: 1000 characters at most."),
        Refusal.ASSEMBLY_POINT_TOO_LONG: _(
            "The assembly point is too long: 300 characters at most."
        ),
        Refusal.UNDO_EXPIRED: _("Too late to undo: 10 seconds have passed."),
        Refusal.NOT_FAMILY: _("This adult is not on the child's list. Call the director."),
    }[refusal]


def duration_label(duration: timedelta | None) -> str:
    """« 3 min 05 s »; « — » while not every child is accounted for."""
    if duration is None:
        return _("not yet")
    seconds = int(duration.total_seconds())
    minutes, rest = divmod(seconds, 60)
    if minutes == 0:
        return ngettext("{n} second", "{n} seconds", rest).format(n=rest)
    return _("{minutes} min {seconds:02d} s").format(minutes=minutes, seconds=rest)
