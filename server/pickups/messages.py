"""Refusals in plain words, for parents, staff and integrators alike. Never an error code."""

from __future__ import annotations

from ..core.i18n import _, ngettext, pgettext
from .rules import Refusal, RuleError


def _hhmm(value: object) -> str:
    return value.strftime("%H:%M") if hasattr(value, "strftime") else str(value)


def refusal_message(error: RuleError) -> str:
    d = error.details
    match error.refusal:
        case Refusal.OUTSIDE_WINDOW:
            return _(
                "Relais is not used at that time: pickups are announced for arrivals between "
                "{start} and {end}."
            ).format(start=_hhmm(d.get("start")), end=_hhmm(d.get("end")))
        case Refusal.ARRIVAL_PASSED:
            return _("That arrival time has already passed. Choose a time later today.")
        case Refusal.CHILD_ABSENT:
            return _("The child is not marked present at the daycare today.")
        case Refusal.CHILD_DEPARTED:
            return _("The child has already left the daycare today.")
        case Refusal.PICKUP_DISABLED:
            return _("Pickup announcements are not enabled for this child. Ask the daycare.")
        case Refusal.PHOTO_PENDING:
            return _(
                "A photo change is awaiting the daycare's approval; announcing is possible "
                "again once it is approved."
            )
        case Refusal.ALREADY_ANNOUNCED:
            return _("An arrival is already announced for this child.")
        case Refusal.NOT_GUARDIAN:
            return _("This person is not a guardian of this child.")
        case Refusal.NOT_NEXT_STEP:
            return _(
                "That is not the next step: press {call}, then {ready}, then {departed}."
            ).format(
                call=step_label("called"),
                ready=step_label("ready"),
                departed=step_label("departed"),
            )
        case Refusal.FINISHED:
            return _("This pickup is already over.")
        case Refusal.BAD_TIME:
            return _("The arrival time must be written as HH:MM, for example 17:45.")
        case Refusal.NOT_ON_BOARD:
            return _("Only an alert on the board can be removed.")
        case Refusal.BAD_REASON:
            return _("Choose why the alert is removed.")
        case Refusal.NOT_UNDOABLE:
            return _("There is nothing to undo: the last change was not made from a board.")
        case Refusal.UNDO_EXPIRED:
            return _("Too late to undo: a step can be undone for 10 seconds.")
        case Refusal.NOT_FAMILY:
            return _("This adult is not authorized to pick up this child.")
        case Refusal.BAD_POSITION:
            return _(
                "The phone's position could not be used. Check that location is on and try "
                "again, or give an arrival time instead."
            )
        case Refusal.SHARING_OVER:
            given = error.details.get("minutes")
            minutes = given if isinstance(given, int) else 60
            return ngettext(
                "Position sharing stopped: it lasts {minutes} minute at most. Give an arrival "
                "time instead.",
                "Position sharing stopped: it lasts {minutes} minutes at most. Give an arrival "
                "time instead.",
                minutes,
            ).format(minutes=minutes)
    return _("This request was refused.")


def status_label(status: str) -> str:
    """A pickup's status in ONE word that staff and parents share: the board's badge, the
    parent's status card and the phone's notification say the same thing for the same
    state (issue 13: staff read « Arrive » while the parent read « Annoncé »)."""
    labels = {
        "scheduled": _("Scheduled"),
        "tracking": _("On the way"),
        "announced": _("Arriving soon"),
        "called": _("Being prepared"),
        "ready": _("Ready"),
        "departed": _("Departed"),
        "cancelled": _("Cancelled"),
        "expired": _("Expired"),
        "dismissed": _("Removed"),
    }
    return labels.get(status, status)


def dismiss_reason_label(reason: str) -> str:
    """A dismissal's reason as staff choose it on the board (and read it in the log)."""
    labels = {
        "already_left": _("Already gone home"),
        "not_here": _("Child not at the daycare"),
        "mistake": _("Announced by mistake or twice"),
        "call_us": _("Other: we will call the parent"),
    }
    return labels.get(reason, reason)


def dismiss_reason_for_parent(reason: str | None) -> str:
    """What the parent page says when staff removed the announcement."""
    labels = {
        "already_left": _("The daycare removed your announcement: your child has already left."),
        "not_here": _(
            "The daycare removed your announcement: your child is not at the daycare right now."
        ),
        "mistake": _(
            "The daycare removed your announcement because it was made by mistake or twice."
        ),
    }
    return labels.get(
        reason or "",
        _("The daycare removed your announcement and will contact you."),
    )


def family_state_label(state: str) -> str:
    """Where a child stands, as the parent page says it: the day's attendance when no
    arrival is under way, else the pickup's status in the staff's own word."""
    attendance = {
        "absent": _("Not at the daycare today"),
        "present": _("At the daycare"),
    }
    return attendance.get(state) or status_label(state)


def refusal_text(refusal: Refusal) -> str:
    return refusal_message(RuleError(refusal))


def step_label(status: str) -> str:
    """The button that moves a pickup *to* this status (contract: Appeler, Prêt, Départ)."""
    labels = {
        "called": pgettext("button", "Call"),
        "ready": pgettext("button", "Ready"),
        "departed": pgettext("button", "Departed"),
    }
    return labels[status]
