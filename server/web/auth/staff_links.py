"""A staff member's one-time link (invitation or reset): the page that sets the password."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...accounts import staff as staff_accounts
from ...accounts.one_time_links import LinkProblem, LinkRefused
from ...accounts.passwords import MIN_PASSWORD_LENGTH, password_problem
from ...core.i18n import _
from ...core.models import Role
from .. import signin
from ..context import page, services
from ..routing import get, post
from ..sessions import STAFF


def _link_page(
    request: Request,
    *,
    link: staff_accounts.ValidStaffLink | None = None,
    problem: LinkProblem | None = None,
    error: str | None = None,
) -> Response:
    messages = {
        LinkProblem.EXPIRED: _(
            "This link has expired, or a newer link has replaced it. Ask your administrator "
            "to send the invitation again."
        ),
        LinkProblem.USED: _(
            "This link has already been used: each link works only once. If you have chosen "
            "your password, sign in with it."
        ),
        LinkProblem.UNKNOWN: _(
            "This link does not work. It may have been cut short: open it from the email again."
        ),
    }
    status = 200
    if problem is not None:
        status = 404 if problem == LinkProblem.UNKNOWN else 410
    elif error:
        status = 400
    return page(
        request,
        "auth/staff_set_password.html",
        status_code=status,
        action=request.url.path,
        problem_message=messages[problem] if problem is not None else None,
        name=link.user.display_name if link else "",
        email=link.user.email if link else "",
        organization=link.organization.name if link else "",
        min_length=MIN_PASSWORD_LENGTH,
        error=error,
    )


async def set_password_page(request: Request) -> Response:
    svc = services(request)
    async with svc.db.session() as session:
        link = await staff_accounts.open_link(
            session, request.path_params["token"], svc.clock.now()
        )
    if isinstance(link, LinkProblem):
        return _link_page(request, problem=link)
    return _link_page(request, link=link)


async def set_password_submit(request: Request) -> Response:
    password, confirmation = await signin.chosen_password(request)
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        link = await staff_accounts.open_link(session, request.path_params["token"], now)
        if isinstance(link, LinkProblem):
            return _link_page(request, problem=link)
        problem = password_problem(password, confirmation, link.user.email)
        if problem is not None:
            return _link_page(request, link=link, error=problem.message)
        try:
            user = await staff_accounts.use_link(session, link, password, now)
        except LinkRefused as refused:
            return _link_page(request, problem=refused.problem)
        await session.commit()
        assert user.id is not None
        user_id, email = user.id, user.email
        target = "/admin" if user.role == Role.ADMIN else "/board"
    # Signed in at once, exactly as /login does it; the link proved the address, so this
    # browser is known from now on (see `signin`).
    return await signin.signed_in(request, target, STAFF, user_id, "staff", email)


routes: list[BaseRoute] = [
    get("/staff/set-password/{token}", set_password_page),
    post("/staff/set-password/{token}", set_password_submit),
]
