"""The one password policy, for every account that has one: a parent choosing theirs from an
activation or reset link, a staff member from an invitation, a centre account (created from
the daycare side, changed in the portal), the first administrator from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.i18n import _

MIN_PASSWORD_LENGTH = 12
# Longer is refused (argon2 would hash a megabyte as patiently as a word); sign-in forms read
# one character more, so a longer password simply does not match.
MAX_PASSWORD_LENGTH = 256


@dataclass(frozen=True)
class PasswordProblem:
    """Why a new password cannot be used, in plain words, and the field it belongs next to:
    the password itself, or its confirmation (typed twice, not the same)."""

    message: str
    field: Literal["password", "confirmation"] = "password"

    def __str__(self) -> str:
        return self.message


def password_problem(password: str, confirmation: str, email: str) -> PasswordProblem | None:
    """None when `password` may be chosen by the account with this email address."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return PasswordProblem(
            _("Choose a password of at least {n} characters.").format(n=MIN_PASSWORD_LENGTH)
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return PasswordProblem(
            _("That password is too long: {n} characters at most.").format(n=MAX_PASSWORD_LENGTH)
        )
    if password.strip().lower() == email.strip().lower():
        return PasswordProblem(_("Your password cannot be your email address."))
    if password != confirmation:
        return PasswordProblem(
            _("The two passwords are not the same. Type the same password twice."),
            "confirmation",
        )
    return None
