"""What the parent's routes share: who acts, the family as it stands, the answer after an
action (the family region for htmx, the whole page otherwise), and announcing for each chosen
child. Handler modules import this, never each other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ...accounts import queries as accounts
from ...accounts.authz import GuardianPrincipal
from ...core.i18n import _
from ...core.models import ActorKind, Child, Guardian, Installation
from ...core.ratelimit import RateLimited, check_announce, rate_limited_message
from ...core.templating import render
from ...emergency.queries import family_notices
from ...pickups import service
from ...pickups.events import BoardEvent
from ...pickups.family import FamilyState, family_children, load_family
from ...pickups.messages import refusal_message
from ...pickups.rules import RuleError
from ...privacy import consent
from ...push import subscriptions
from ..context import is_htmx, page, services

# What the page tells after an action: ("ok" | "error", the text).
Notices = list[tuple[str, str]]


def actor(principal: GuardianPrincipal, request: Request) -> service.Actor:
    return service.Actor(
        ActorKind.GUARDIAN,
        principal.guardian_id,
        principal.name,
        request.headers.get("user-agent", ""),
    )


async def family(request: Request, principal: GuardianPrincipal) -> FamilyState:
    svc = services(request)
    async with svc.db.session() as session:
        return await load_family(session, principal.guardian_id, svc.clock.now())


async def family_child_ids(session: AsyncSession, principal: GuardianPrincipal) -> list[int]:
    return [c.id for c in await family_children(session, principal.guardian_id) if c.id]


async def authorized_people(session: AsyncSession, principal: GuardianPrincipal) -> list[Guardian]:
    """The adults authorized to pick up this guardian's children."""
    return await accounts.authorized_people(session, await family_child_ids(session, principal))


def family_fragment(state: FamilyState, notices: Notices) -> HTMLResponse:
    """An action's answer for htmx: the notices (swapped into #notices) and the family's live
    parts out of band, so the page shows the result even before the socket says it."""
    return HTMLResponse(
        render("parent/_notices.html", notices=notices)
        + render("parent/_family.html", family=state, oob=True)
    )


async def family_page(
    request: Request, principal: GuardianPrincipal, state: FamilyState, notices: Notices
) -> Response:
    async with services(request).db.session() as session:
        authorized = await authorized_people(session, principal)
        location_consent = await consent.current(session, principal.guardian_id)
        # What this browser turned on (one subscription per sign-in: per device).
        push_subscription = await subscriptions.of_session(session, principal.session_hash)
        emergencies = await family_notices(session, [c.child_id for c in state.children])
    return page(
        request,
        "parent/page.html",
        family=state,
        notices=notices,
        principal=principal,
        authorized=authorized,
        location_consent=location_consent,
        push_subscription=push_subscription,
        emergencies=emergencies,
        oob=False,
    )


async def answer(request: Request, principal: GuardianPrincipal, notices: Notices) -> Response:
    """After an action: the family region for htmx, or the whole page (no-JS forms)."""
    state = await family(request, principal)
    if is_htmx(request):
        return family_fragment(state, notices)
    return await family_page(request, principal, state, notices)


def chosen_children(form: FormData, state: FamilyState) -> list[int]:
    wanted: list[int] = []
    for raw in form.getlist("child_id"):
        try:
            wanted.append(int(str(raw)))
        except ValueError:
            continue
    mine = {c.child_id for c in state.children}
    # A forged id of another family's child is treated as unknown: nothing is revealed.
    return [cid for cid in wanted if cid in mine]


class Announcing(TypedDict):
    """Who announces for which child, where, and when: what the announcing use-cases
    (`service.announce_eta`, `trips.start_trip`) take besides the time or the position."""

    child: Child
    guardian: Guardian
    installation: Installation
    actor: service.Actor
    now: datetime


# What announcing does for one child: its outcome and the line the parent reads.
Announcer = Callable[[AsyncSession, Announcing], Awaitable[tuple[service.Outcome, str]]]


async def announce_each(
    request: Request, principal: GuardianPrincipal, form: FormData, announce_one: Announcer
) -> Notices:
    """Announce for each chosen child of the family (siblings in one tap): each succeeds or
    is refused on its own, in plain words; the board events go out after the commit."""
    svc = services(request)
    now = svc.clock.now()
    chosen = chosen_children(form, await family(request, principal))
    if not chosen:
        return [("error", _("Choose at least one child."))]
    notices: Notices = []
    events: list[BoardEvent] = []
    who = actor(principal, request)
    async with svc.db.session() as session:
        guardian = await session.get(Guardian, principal.guardian_id)
        assert guardian is not None
        try:
            await check_announce(session, principal.guardian_id, now)
        except RateLimited as limited:
            return [("error", rate_limited_message(limited))]
        for child_id in chosen:
            child = await session.get(Child, child_id)
            assert child is not None
            installation = await session.get(Installation, child.installation_id)
            assert installation is not None
            announcing = Announcing(
                child=child, guardian=guardian, installation=installation, actor=who, now=now
            )
            try:
                async with session.begin_nested():  # one refusal leaves the others done
                    outcome, line = await announce_one(session, announcing)
                events += outcome.events
                notices.append(("ok", line))
            except RuleError as error:
                notices.append(("error", f"{child.first_name} : {refusal_message(error)}"))
        await svc.commit_and_publish(session, events)
    return notices
