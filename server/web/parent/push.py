"""Web Push for the parent's phone (/parent/push/...): the server's public key, and a browser
turning notifications on or off. JSON in and out, for the page's script and outside clients."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ...core import i18n
from ...core.i18n import _
from ...push import subscriptions
from ...push.keys import public_key
from ...push.subscriptions import BadSubscription
from ..context import check_csrf_header, services
from ..routing import get, post
from ..sessions import require_guardian


async def push_key(request: Request) -> Response:
    """The VAPID public key a browser subscribes with (`applicationServerKey`)."""
    return JSONResponse({"key": public_key(services(request).push.vapid)})


async def _json_body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise BadSubscription(_("Send the subscription as a JSON object.")) from None


def _refused(error: BadSubscription) -> Response:
    return JSONResponse({"detail": str(error)}, status_code=422)


async def subscribe(request: Request) -> Response:
    """This browser, signed in as this parent, is told of their pickups with the phone
    locked (`PushSubscription.toJSON()`, and `"preparing"` for « En préparation » too)."""
    principal = await require_guardian(request)
    check_csrf_header(request)
    svc = services(request)
    try:
        new = subscriptions.parse(await _json_body(request), demo=svc.settings.demo)
    except BadSubscription as error:
        return _refused(error)
    async with svc.db.session() as session:
        await subscriptions.save(
            session,
            new,
            guardian_id=principal.guardian_id,
            session_hash=principal.session_hash,
            locale=i18n.current_locale(),
            now=svc.clock.now(),
        )
        await session.commit()
    return JSONResponse({"endpoint": new.endpoint, "preparing": new.preparing}, status_code=201)


async def unsubscribe(request: Request) -> Response:
    """This browser is told no more (`{"endpoint"}`); 204 whether or not it was."""
    principal = await require_guardian(request)
    check_csrf_header(request)
    svc = services(request)
    try:
        body = await _json_body(request)
        endpoint = body.get("endpoint") if isinstance(body, dict) else None
        if not isinstance(endpoint, str) or not endpoint:
            raise BadSubscription(_("The subscription has no endpoint."))
    except BadSubscription as error:
        return _refused(error)
    async with svc.db.session() as session:
        await subscriptions.remove(session, principal.guardian_id, endpoint)
        await session.commit()
    return Response(status_code=204)


routes: list[BaseRoute] = [
    get("/parent/push/key", push_key, "parent.push_key"),
    post("/parent/push/subscriptions", subscribe, "parent.push_subscriptions"),
    Route("/parent/push/subscriptions", unsubscribe, methods=["DELETE"]),
]
