"""Who may see and do what. Every route and socket asks these functions, never a template.

Three kinds of callers: staff (a session), wall displays (a revocable link) and integrations
(an API token). Each is bound to one organization; nothing crosses that line.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.models import Installation, Role


@dataclass(frozen=True)
class StaffPrincipal:
    user_id: int
    organization_id: int
    role: Role
    name: str
    email: str
    # None for admins (every installation of the organization).
    installation_id: int | None
    home_group_id: int | None
    session_hash: str

    @property
    def account_id(self) -> int:
        return self.user_id

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class DisplayPrincipal:
    display_id: int
    organization_id: int
    installation_id: int
    group_id: int | None
    name: str


@dataclass(frozen=True)
class GuardianPrincipal:
    """A signed-in parent, or an adult a parent authorized to pick up (kind "authorized")."""

    guardian_id: int
    organization_id: int
    name: str
    email: str
    kind: str  # "guardian" | "authorized"
    session_hash: str

    @property
    def account_id(self) -> int:
        return self.guardian_id

    @property
    def manages_family(self) -> bool:
        """Authorized persons may announce and pick up, not invite others or change the
        children's photos (their own photo, yes)."""
        return self.kind == "guardian"


@dataclass(frozen=True)
class CenterPrincipal:
    """A centre account signed in to the portal: one installation, nothing else."""

    center_account_id: int
    organization_id: int
    installation_id: int
    email: str
    session_hash: str

    @property
    def account_id(self) -> int:
        return self.center_account_id


@dataclass(frozen=True)
class ApiPrincipal:
    token_id: int
    organization_id: int
    name: str


Principal = StaffPrincipal | DisplayPrincipal | ApiPrincipal


def can_view_installation(principal: Principal, installation: Installation) -> bool:
    if installation.organization_id != principal.organization_id:
        return False
    if isinstance(principal, DisplayPrincipal):
        return installation.id == principal.installation_id
    if isinstance(principal, ApiPrincipal):
        return True
    return principal.is_admin or principal.installation_id == installation.id


def can_act_on_installation(principal: Principal, installation: Installation) -> bool:
    """Press Appeler/Prêt/Départ, check a child in, move a child: staff and integrations."""
    if isinstance(principal, DisplayPrincipal):
        return False  # a wall screen only shows
    return can_view_installation(principal, installation)


def can_administer(principal: Principal) -> bool:
    return isinstance(principal, StaffPrincipal) and principal.is_admin
