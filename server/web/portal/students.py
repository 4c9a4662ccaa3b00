"""The seed's « Liste des élèves » (/portal/students): the installation's children and their
parents, who activated their account, and the button that sends the activation email again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...accounts import queries as accounts
from ...accounts.authz import CenterPrincipal
from ...accounts.guardians import invite
from ...core import ratelimit
from ...core.models import Child, Guardian
from ...roster import queries as roster
from .. import limits
from ..context import csrf_form, public_base_url, services
from ..routing import get, post
from ..sessions import require_center
from .common import installation_of, portal_page, see_other


@dataclass(frozen=True)
class Student:
    """A child of the list, with its parents."""

    child: Child
    parents: tuple[Guardian, ...]

    @property
    def all_active(self) -> bool:
        """White in the seed's list when every parent activated; orange otherwise."""
        return bool(self.parents) and all(p.account_state == "active" for p in self.parents)


async def _students(session: AsyncSession, principal: CenterPrincipal) -> list[Student]:
    """The children the parent side shows, by name, each with its parents."""
    parents = await accounts.parents_by_child(session, principal.installation_id)
    return [
        Student(child, tuple(parents.get(child.id or 0, [])))
        for child in await roster.pickup_children(session, principal.installation_id)
    ]


async def students(request: Request) -> Response:
    principal = await require_center(request)
    async with services(request).db.session() as session:
        lines = await _students(session, principal)
        installation = await installation_of(session, principal)
    return portal_page(
        request,
        "portal/students.html",
        "students",
        installation,
        students=lines,
        sent=request.query_params.get("sent"),
        failed=request.query_params.get("failed"),
        wait=limits.parse_id(request.query_params.get("wait")),
    )


async def send_activation(request: Request) -> Response:
    """The seed's « Courriel d'activation » button: send the activation email again."""
    principal = await require_center(request)
    await csrf_form(request)
    svc = services(request)
    guardian_id: int = request.path_params["guardian_id"]
    async with svc.db.session() as session:
        mine = {g.id for line in await _students(session, principal) for g in line.parents}
        if guardian_id not in mine:
            raise limits.not_found()
        refused = await ratelimit.reinvite(
            session,
            f"guardian:{guardian_id}",
            f"centre:{principal.center_account_id}",
            svc.clock.now(),
        )
        await session.commit()
    if refused is not None:
        return see_other(request, "portal.students", f"wait={refused.retry_after}")
    sent = await invite(svc.db, svc.clock, svc.mailer, guardian_id, public_base_url(request))
    outcome = "sent" if sent else "failed"
    return see_other(request, "portal.students", f"{outcome}={guardian_id}")


routes: list[BaseRoute] = [
    get("/portal/students", students, "portal.students"),
    post("/portal/guardians/{guardian_id:id}/activation", send_activation, "portal.activation"),
]
