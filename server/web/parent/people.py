"""The other adults who may pick up (/parent/people/...): a parent invites a grandparent or a
neighbour to announce and pick up their children, and takes it back."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from ...accounts import authorized
from ...accounts.authz import GuardianPrincipal
from ...accounts.guardians import invite
from ...core import ratelimit
from ...core.i18n import _
from ...core.ratelimit import rate_limited_message
from ..context import csrf_form, is_htmx, public_base_url, services
from ..limits import not_found
from ..routing import post
from ..sessions import PARENT, end_sessions, require_guardian
from .common import answer, authorized_people, family_child_ids


async def _parent_form(request: Request) -> tuple[GuardianPrincipal, FormData]:
    """A parent's form, its CSRF token checked; 403 for an authorized person (they may not
    invite anyone)."""
    principal = await require_guardian(request)
    form = await csrf_form(request)
    if not principal.manages_family:
        raise HTTPException(403, _("Only a parent can invite someone to pick up."))
    return principal, form


def _home(request: Request) -> Response:
    return RedirectResponse(request.app.url_path_for("parent.home"), status_code=303)


async def invite_person(request: Request) -> Response:
    """A guardian lets another adult (a grandparent) announce and pick up their children."""
    principal, form = await _parent_form(request)
    first = str(form.get("first_name", "")).strip()[:100]
    last = str(form.get("last_name", "")).strip()[:100]
    email = str(form.get("email", "")).strip().lower()[:254]
    if not first or not last or "@" not in email or "." not in email.rsplit("@", 1)[-1]:
        notice = _("Enter the person's first name, last name and email.")
        return await answer(request, principal, [("error", notice)])
    svc = services(request)
    async with svc.db.session() as session:
        # Invitations send email to any address: a few per hour, like the other links.
        decision = await ratelimit.hit(
            session,
            f"invite-person:guardian:{principal.guardian_id}",
            ratelimit.LINK_EMAIL_LIMIT.count,
            ratelimit.LINK_EMAIL_LIMIT.window,
            svc.clock.now(),
        )
        await session.commit()
        if not decision.allowed:
            return await answer(request, principal, [("error", rate_limited_message(decision))])
        try:
            person = await authorized.authorize(
                session,
                organization_id=principal.organization_id,
                invited_by_id=principal.guardian_id,
                first_name=first,
                last_name=last,
                email=email,
                child_ids=await family_child_ids(session, principal),
            )
        except authorized.AlreadyAGuardian:
            notice = _("This person is already a guardian known to the daycare.")
            return await answer(request, principal, [("error", notice)])
        await session.commit()
        invite_id = person.id if person.account_state != "active" else None
    if invite_id is not None and not await invite(
        svc.db, svc.clock, svc.mailer, invite_id, public_base_url(request)
    ):
        notice = _(
            "{name} can announce and pick up, but the invitation email could not "
            "be sent. Try again later: invite the same address again."
        ).format(name=first)
        return await answer(request, principal, [("error", notice)])
    if not is_htmx(request):
        return _home(request)
    notice = _("{name} can now announce and pick up; an invitation was sent to {email}.")
    return await answer(request, principal, [("ok", notice.format(name=first, email=email))])


async def revoke_person(request: Request) -> Response:
    principal, _form = await _parent_form(request)
    person_id: int = request.path_params["id"]
    svc = services(request)
    async with svc.db.session() as session:
        people = {p.id: p for p in await authorized_people(session, principal)}
        person = people.get(person_id)
        if person is None:
            raise not_found()
        closed = await authorized.revoke(
            session, person, await family_child_ids(session, principal)
        )
        await session.commit()
    if closed:
        await end_sessions(request, PARENT, person_id)
    return _home(request)


routes: list[BaseRoute] = [
    post("/parent/people", invite_person, "parent.invite"),
    post("/parent/people/{id:id}/revoke", revoke_person, "parent.revoke"),
]
