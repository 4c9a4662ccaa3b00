"""Refusals in plain words, for parents, staff and integrators alike. Never an error code."""

from __future__ import annotations

from ..core.i18n import _, pgettext
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
        case Refusal.BAD_POSITION:
            return _(
                "The phone's position could not be used. Check that location is on and try "
                "again, or give an arrival time instead."
            )
        case Refusal.SHARING_OVER:
            return _(
                "Position sharing stopped: it lasts {minutes} minutes at most. Give an arrival "
                "time instead."
            ).format(minutes=error.details.get("minutes", 60))
    return _("This request was refused.")


def status_label(status: str) -> str:
    labels = {
        "scheduled": _("Upcoming"),
        "tracking": _("On the way (GPS)"),
        "announced": _("Arriving"),
        "called": _("Called"),
        "ready": _("Ready"),
        "departed": _("Departed"),
        "cancelled": _("Cancelled"),
        "expired": _("Expired"),
    }
    return labels.get(status, status)


def family_state_label(state: str) -> str:
    """Where a child stands, as the parent page says it."""
    labels = {
        "absent": _("Not at the daycare today"),
        "present": _("At the daycare"),
        "departed": _("Gone home"),
        "scheduled": _("Announced"),
        "tracking": _("Announced"),
        "announced": _("Announced"),
        "called": _("Being prepared"),
        "ready": _("Ready"),
    }
    return labels.get(state, state)


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
