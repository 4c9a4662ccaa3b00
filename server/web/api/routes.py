"""API v1 for integrations (CONTRACT.md): JSON, bearer tokens scoped to one organization.

Ids in and out are the management system's own ids (strings); our internal ids never leave,
except a pickup's own id. Every lookup is filtered by the token's organization, so a foreign
id and an unknown id get the same 404.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...accounts import queries as accounts
from ...accounts.authz import ApiPrincipal
from ...accounts.guardians import send_all
from ...core.i18n import _, use_locale
from ...core.models import ActorKind, Child, Guardian, Installation, Pickup, PickupStatus
from ...core.security import token_hash
from ...pickups import queries as pickups
from ...pickups import rules, service, trips, writes
from ...pickups.attendance import check_in, mark_absent, today_attendance
from ...pickups.events import PickupRow
from ...pickups.messages import refusal_message
from ...pickups.moves import move_to_group
from ...pickups.rules import Refusal, RuleError
from ...roster import RosterInvalid
from ...roster import body as roster_body
from ...roster import queries as roster
from ...roster.apply import DeactivationsUnconfirmed, apply_and_commit
from ...roster.csv_rows import MAX_FILE_BYTES as ROSTER_MAX_BYTES
from ..context import public_base_url, services
from ..limits import parse_id
from .bodies import AttendanceIn, ChildPatch, EtaPickupIn, GpsPickupIn, StatusIn
from .openapi import openapi_document

MAX_BODY_BYTES = 64 * 1024
M = TypeVar("M", bound=BaseModel)
Found = TypeVar("Found")


class ApiError(Exception):
    def __init__(
        self, status: int, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        self.status, self.detail, self.errors = status, detail, errors


Handler = Callable[[Request, ApiPrincipal], Awaitable[Response]]
WriteHandler = Callable[[Request, str], Awaitable[Response]]


async def _answer_errors(request: Request, call: Callable[[], Awaitable[Response]]) -> Response:
    """Run `call`, turning refusals into JSON errors. API answers are in English unless the
    caller asks (?lang=fr)."""
    locale = "fr_CA" if request.query_params.get("lang") == "fr" else "en"
    with use_locale(locale):
        try:
            return await call()
        except ApiError as error:
            body: dict[str, Any] = {"detail": error.detail}
            if error.errors is not None:
                body["errors"] = error.errors
            return JSONResponse(body, status_code=error.status)
        except RuleError as error:
            bad_input = {Refusal.BAD_TIME, Refusal.BAD_POSITION, Refusal.OUTSIDE_WINDOW}
            status = 422 if error.refusal in bad_input else 409
            return JSONResponse(
                {"detail": refusal_message(error), "reason": error.refusal.value},
                status_code=status,
            )


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate the bearer token, run the handler, turn refusals into JSON errors."""

    async def wrapped(request: Request) -> Response:
        async def call() -> Response:
            hashed = _bearer_hash(request)
            now = services(request).clock.now()
            principal = await services(request).db.write(
                lambda conn: token_principal(conn, hashed, now)
            )
            return await handler(request, principal)

        return await _answer_errors(request, call)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def write_endpoint(handler: WriteHandler) -> Callable[[Request], Awaitable[Response]]:
    """For the hot writes (announce, status): the handler gets the token's hash and checks
    it with `token_principal` inside its own transaction (one transaction per request)."""

    async def wrapped(request: Request) -> Response:
        return await _answer_errors(request, lambda: handler(request, _bearer_hash(request)))

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def _bearer_hash(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, _("Missing API token: send 'Authorization: Bearer <token>'."))
    return token_hash(token.strip())


def token_principal(conn: Connection, hashed: str, now: datetime) -> ApiPrincipal:
    """The token's principal, inside the caller's transaction; 401 when unknown or revoked."""
    principal = accounts.api_principal(conn, hashed, now)
    if principal is None:
        raise ApiError(401, _("Unknown or revoked API token."))
    return principal


async def _parse(request: Request, model: type[M]) -> M:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, _("The request body is too large."))
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise ApiError(422, _("The request is not valid."), errors) from None


def _not_found(message: str, ident: str) -> ApiError:
    """`message` is a whole sentence with an {id} slot, so each language can phrase it."""
    return ApiError(404, message.format(id=ident))


def _known(found: Found | None, message: str, ident: str) -> Found:
    """What a lookup found, or the 404 `message` (as `_not_found`)."""
    if found is None:
        raise _not_found(message, ident)
    return found


async def _child(session: AsyncSession, principal: ApiPrincipal, external_id: str) -> Child:
    child = await roster.by_external_id(session, Child, principal.organization_id, external_id)
    return _known(child, _("Unknown child: {id}."), external_id)


async def _installation_by_external(
    session: AsyncSession, principal: ApiPrincipal, external_id: str
) -> Installation:
    installation = await roster.by_external_id(
        session, Installation, principal.organization_id, external_id
    )
    return _known(installation, _("Unknown installation: {id}."), external_id)


def _actor(principal: ApiPrincipal) -> service.Actor:
    return service.Actor(ActorKind.API, principal.token_id, principal.name, "API")


def _hhmm(instant: datetime | None, tz: str) -> str | None:
    return instant.astimezone(ZoneInfo(tz)).strftime("%H:%M") if instant else None


async def _pickup_json(
    session: AsyncSession, pickup: Pickup, seq: int | None = None
) -> dict[str, Any]:
    """A pickup's JSON, read within an ORM session (the list, a GPS announcement)."""
    assert pickup.id is not None
    pickup_id = pickup.id

    def read(sync: Session) -> dict[str, Any]:
        conn = sync.connection()
        found = writes.read_pickup(conn, pickup_id)
        assert found is not None
        return _json(conn, found.row, found.timezone, seq)

    return await session.run_sync(read)


# -- endpoints ---------------------------------------------------------------------------


@endpoint
async def list_installations(request: Request, principal: ApiPrincipal) -> Response:
    """The organization's installations and their groups."""
    async with services(request).db.session() as session:
        installations = await roster.installations(session, principal.organization_id)
        groups = await roster.groups(session, [i.id for i in installations if i.id is not None])
    return JSONResponse(
        [
            {
                "id": inst.external_id,
                "name": inst.name,
                "latitude": inst.latitude,
                "longitude": inst.longitude,
                "groups": [
                    {"id": g.external_id, "name": g.name}
                    for g in groups
                    if g.installation_id == inst.id
                ],
            }
            for inst in installations
        ]
    )


@endpoint
async def list_children(request: Request, principal: ApiPrincipal) -> Response:
    """Children of an installation (or of the organization), with today's presence."""
    svc = services(request)
    async with svc.db.session() as session:
        wanted = request.query_params.get("installation_id")
        only = (await _installation_by_external(session, principal, wanted)).id if wanted else None
        rows = await roster.active_children(session, principal.organization_id, only)
        guardians = await roster.guardian_external_ids(session, principal.organization_id)
        result = []
        now = svc.clock.now()
        for child, inst, group in rows:
            attendance = await today_attendance(session, child, inst, now)
            result.append(
                {
                    "id": child.external_id,
                    "first_name": child.first_name,
                    "last_name": child.last_name,
                    "installation_id": inst.external_id,
                    "group_id": group.external_id,
                    "present": attendance is not None and attendance.checked_out_at is None,
                    "pickup_enabled": child.pickup_enabled,
                    "agreement_active": child.agreement_active,
                    "guardian_ids": sorted(guardians.get(child.id or 0, [])),
                }
            )
    return JSONResponse(result)


@endpoint
async def patch_child(request: Request, principal: ApiPrincipal) -> Response:
    """Move a child to another group of its installation; live alerts follow it."""
    body = await _parse(request, ChildPatch)
    svc = services(request)
    async with svc.db.session() as session:
        child = await _child(session, principal, request.path_params["child_id"])
        group = await roster.group_by_external_id(session, child.installation_id, body.group_id)
        if group is None:
            raise ApiError(
                422, _("Unknown group {id} in this child's installation.").format(id=body.group_id)
            )
        events = await move_to_group(session, child, group, svc.clock.now())
        await svc.commit_and_publish(session, events)
        return JSONResponse({"id": child.external_id, "group_id": group.external_id})


@endpoint
async def post_attendance(request: Request, principal: ApiPrincipal) -> Response:
    """Check a child in (present) or out (absent; any live pickup is cancelled)."""
    body = await _parse(request, AttendanceIn)
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        child = await _child(session, principal, body.child_id)
        installation = await session.get(Installation, child.installation_id)
        assert installation is not None
        if body.present:
            events = await check_in(session, child, installation, now)
        else:
            events = await service.cancel_live_for_child(
                session, child, actor=_actor(principal), now=now
            )
            events += await mark_absent(session, child, installation, now)
        await svc.commit_and_publish(session, events)
    return JSONResponse({"child_id": body.child_id, "present": body.present})


def _json(
    conn: Connection, row: PickupRow, timezone: str, seq: int | None = None
) -> dict[str, Any]:
    """A pickup's JSON (the management system's ids, times in the installation's zone), from
    its row as the transaction holds it; with the installation's event number of the change
    a write made, when there is one."""
    ids = pickups.external_ids(conn, row.id)
    answer = {
        "id": row.id,
        "status": row.status,
        "mode": row.mode,
        "child_id": ids.child,
        "child_name": row.child_name,
        "guardian_id": ids.guardian,
        "installation_id": ids.installation,
        "group_id": ids.group,
        "eta": _hhmm(row.eta, timezone),
        "announce_at": _hhmm(row.announce_at, timezone),
        "gps_minutes": row.gps_minutes,
        "day": row.day.isoformat(),
        "created_at": ids.created_at.isoformat(),
        "updated_at": ids.updated_at.isoformat(),
    }
    if seq is not None:
        answer["seq"] = seq  # boards show the change once they have this number
    return answer


def _answer(conn: Connection, written: writes.Written) -> dict[str, Any]:
    """The answer to a write, from what the transaction wrote (read inside it, not after)."""
    return _json(conn, written.row, written.timezone, written.seq)


@write_endpoint
async def create_pickup(request: Request, hashed: str) -> Response:
    """Announce an arrival, by time (ETA) or position (GPS)."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:  # before parsing: too large is 413 even when not JSON
        raise ApiError(413, _("The request body is too large."))
    mode = None
    try:
        parsed = json.loads(raw or b"{}")
        mode = parsed.get("mode") if isinstance(parsed, dict) else None
    except ValueError:
        raise ApiError(422, _("The request body is not JSON.")) from None
    if mode == "gps":
        return await _create_gps_pickup(request, hashed, await _parse(request, GpsPickupIn))
    if mode != "eta":
        raise ApiError(
            422,
            _("The request is not valid."),
            [{"field": "mode", "message": _("mode must be 'eta' or 'gps'.")}],
        )
    body = await _parse(request, EtaPickupIn)
    arrival = rules.parse_hhmm(body.eta)
    svc = services(request)
    now = svc.clock.now()

    def announce(conn: Connection) -> tuple[dict[str, Any], writes.Written]:
        principal = token_principal(conn, hashed, now)
        child_id, guardian_id = pickups.announced_ids(
            conn, principal.organization_id, body.child_id, body.guardian_id
        )
        if child_id is None:
            raise _not_found(_("Unknown child: {id}."), body.child_id)
        if guardian_id is None:
            raise _not_found(_("Unknown guardian: {id}."), body.guardian_id)
        written = writes.announce_eta(
            conn,
            child_id=child_id,
            guardian_id=guardian_id,
            arrival=arrival,
            actor=_actor(principal),
            now=now,
        )
        return _answer(conn, written), written

    answer, written = await svc.db.write(announce)
    await svc.publish(list(written.events))
    return JSONResponse(answer, status_code=201)


async def _create_gps_pickup(request: Request, hashed: str, body: GpsPickupIn) -> Response:
    """A GPS announcement from one position: a trip whose first fix is this one (trips.py)."""
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        principal = await session.run_sync(
            lambda sync: token_principal(sync.connection(), hashed, now)
        )
        child, installation = _known(
            await roster.child_and_installation(session, principal.organization_id, body.child_id),
            _("Unknown child: {id}."),
            body.child_id,
        )
        guardian = _known(
            await roster.by_external_id(
                session, Guardian, principal.organization_id, body.guardian_id
            ),
            _("Unknown guardian: {id}."),
            body.guardian_id,
        )
        outcome = await trips.announce_gps(
            session,
            child=child,
            guardian=guardian,
            installation=installation,
            latitude=body.latitude,
            longitude=body.longitude,
            actor=_actor(principal),
            now=now,
        )
        seq = outcome.events[-1].seq if outcome.events else None
        answer = await _pickup_json(session, outcome.pickup, seq)
        await svc.commit_and_publish(session, outcome.events)
    return JSONResponse(answer, status_code=201)


@write_endpoint
async def pickup_status(request: Request, hashed: str) -> Response:
    """Move a pickup to the next step: called, then ready, then departed (409 otherwise)."""
    body = await _parse(request, StatusIn)
    raw_id = request.path_params["pickup_id"]
    pickup_id = parse_id(raw_id)  # None: no row can have it (404 below)
    svc = services(request)
    now = svc.clock.now()

    def step(conn: Connection) -> tuple[dict[str, Any], writes.Written]:
        principal = token_principal(conn, hashed, now)
        written = None
        if pickup_id is not None:
            written = writes.staff_step(
                conn,
                pickup_id=pickup_id,
                organization_id=principal.organization_id,
                target=PickupStatus(body.status),
                expected=None,
                actor=_actor(principal),
                now=now,
            )
        if written is None:
            raise _not_found(_("Unknown pickup: {id}."), raw_id)
        return _answer(conn, written), written

    answer, written = await svc.db.write(step)
    await svc.publish(list(written.events))
    return JSONResponse(answer)


@endpoint
async def list_pickups(request: Request, principal: ApiPrincipal) -> Response:
    """Today's pickups, optionally for one installation and one status."""
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        wanted = request.query_params.get("installation_id")
        if wanted:
            installations = [await _installation_by_external(session, principal, wanted)]
        else:
            # In the order the organization's installations were made (the answer's order).
            installations = sorted(
                await roster.installations(session, principal.organization_id),
                key=lambda i: i.id or 0,
            )
        status = request.query_params.get("status")
        if status and status not in {s.value for s in PickupStatus}:
            raise ApiError(422, _("Unknown status: {status}.").format(status=status))
        today = await pickups.pickups_today(session, installations, now, status)
        result = [await _pickup_json(session, pickup) for pickup in today]
    return JSONResponse(result)


# The query flag that lets a roster deactivate more than a fifth of the active children.
CONFIRM_FLAG = "confirm_deactivations"


def _confirmed(request: Request) -> bool:
    value = request.query_params.get(CONFIRM_FLAG, "false").lower()
    if value in {"true", "1"}:
        return True
    if value in {"false", "0"}:
        return False
    raise ApiError(422, _("{flag} must be true or false.").format(flag=CONFIRM_FLAG))


@endpoint
async def put_roster(request: Request, principal: ApiPrincipal) -> Response:
    """Replace the organization's roster; idempotent. Bad rows: 422, nothing applied. More
    than a fifth of the active children deactivated: 409, nothing applied, unless the query
    says ?confirm_deactivations=true."""
    confirmed = _confirmed(request)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > ROSTER_MAX_BYTES:
        raise ApiError(413, _("The request body is too large."))
    raw = await request.body()
    if len(raw) > ROSTER_MAX_BYTES:
        raise ApiError(413, _("The request body is too large."))
    svc = services(request)
    try:
        roster = roster_body.parse(raw)
        outcome = await apply_and_commit(
            svc.db,
            principal.organization_id,
            roster,
            base_url=public_base_url(request),
            now=svc.clock.now(),
            confirm_deactivations=confirmed,
        )
    except RosterInvalid as invalid:
        raise ApiError(
            422,
            _("The roster is not valid; nothing was applied."),
            [roster_body.api_error(e) for e in invalid.errors],
        ) from None
    except DeactivationsUnconfirmed as unconfirmed:
        plan = unconfirmed.plan
        detail = _("{message} (Send it again with ?{flag}=true.)").format(
            message=unconfirmed.message(), flag=CONFIRM_FLAG
        )
        body = {
            "detail": detail,
            "reason": "mass_deactivation",
            "deactivating": plan.children_deactivated,
            "active_children": plan.active_children,
        }
        return JSONResponse(body, status_code=409)
    await svc.publish(outcome.events)
    await send_all(svc.mailer, outcome.emails)
    return JSONResponse({**outcome.plan.summary(), "invitations_sent": len(outcome.emails)})


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


async def pickups_collection(request: Request) -> Response:
    if request.method == "POST":
        return await create_pickup(request)
    return await list_pickups(request)


# Mounted at /api/v1 as "api": url names "api:pickups", "api:pickup_status"… The paths are
# the OpenAPI document's, ids as the management system sends them (a pickup's id is parsed
# by the handler, so an unknown one gets the API's own 404 after the token is checked).
routes = [
    Route("/openapi.json", openapi, methods=["GET"], name="openapi"),
    Route("/installations", list_installations, methods=["GET"], name="installations"),
    Route("/roster", put_roster, methods=["PUT"], name="roster"),
    Route("/children", list_children, methods=["GET"], name="children"),
    Route("/children/{child_id}", patch_child, methods=["PATCH"], name="child"),
    Route("/attendance", post_attendance, methods=["POST"], name="attendance"),
    Route("/pickups", pickups_collection, methods=["GET", "POST"], name="pickups"),
    Route("/pickups/{pickup_id}/status", pickup_status, methods=["POST"], name="pickup_status"),
]
