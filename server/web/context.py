"""What every route needs: the app's services, CSRF, language, and pages and errors rendered
the same way everywhere. Who is signed in: `sessions`."""

from __future__ import annotations

import json
import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import i18n
from ..core.i18n import _
from ..core.security import csrf_matches, new_csrf_token, token_hash
from ..core.templating import render
from ..services import Services
from . import limits
from .origin import same_site_request

# The sign-in cookies, one per kind of account (see `sessions`).
SESSION_COOKIE = "relais_session"
PARENT_COOKIE = "relais_parent"
PORTAL_COOKIE = "relais_portal"
CSRF_COOKIE = "relais_csrf"
LANG_COOKIE = "relais_lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
# Requests that change nothing: no Origin check, no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The sign-ins a browser may hold at once: its CSRF token is bound to them.
SESSION_COOKIES = (SESSION_COOKIE, PARENT_COOKIE, PORTAL_COOKIE)

log = logging.getLogger(__name__)


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc


def is_secure(conn: HTTPConnection) -> bool:
    return conn.url.scheme in {"https", "wss"} or services(conn).settings.secure_cookies


def _binding_of(values: list[str]) -> str:
    return token_hash("|".join(values)) if any(values) else ""


def session_binding(conn: HTTPConnection) -> str:
    """What a CSRF token is bound to: the browser's sign-ins (staff, parent, centre), or ""
    for an anonymous visitor. Signing in or out changes it, and with it the token."""
    return _binding_of([conn.cookies.get(name, "") for name in SESSION_COOKIES])


def _sessions_changed(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The sign-in cookies a response sets ("" for one it deletes)."""
    changed: dict[str, str] = {}
    for name, value in headers:
        if name.lower() != b"set-cookie" or not value.startswith(
            tuple(f"{cookie}=".encode() for cookie in SESSION_COOKIES)
        ):
            continue
        parsed: SimpleCookie = SimpleCookie()
        try:
            parsed.load(value.decode("latin-1"))
        except CookieError:
            continue
        for key, morsel in parsed.items():
            changed[key] = "" if morsel["max-age"] == "0" else morsel.value
    return changed


class RequestContextMiddleware:
    """Sets the language for the request, gives every visitor a CSRF cookie bound to their
    sign-in, and refuses a state-changing request sent from another site's page.

    Pure ASGI (not BaseHTTPMiddleware) so WebSockets and streaming pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        query_lang = conn.query_params.get("lang")
        locale = i18n.negotiate(query_lang, conn.cookies.get(LANG_COOKIE))
        i18n.set_locale(locale)
        scope.setdefault("state", {})["locale"] = locale
        svc: Services = scope["app"].state.services
        secret = svc.settings.secret_key
        csrf = conn.cookies.get(CSRF_COOKIE)
        new_cookies: list[str] = []
        csrf_cookie: str | None = None
        api_call = _is_api_call(scope, conn)
        if api_call:
            # Bearer-authenticated API calls post no forms and render no pages: no CSRF cookie.
            csrf = ""
        elif scope["type"] == "http":
            binding = session_binding(conn)
            scope["state"]["csrf_binding"] = binding
            if not (csrf and csrf_matches(secret, csrf, csrf, binding)):
                csrf = new_csrf_token(secret, binding)
                csrf_cookie = _cookie(CSRF_COOKIE, csrf, conn, http_only=True)
        scope["state"]["csrf_token"] = csrf
        if query_lang in i18n.LANGUAGE_CODES:
            new_cookies.append(_cookie(LANG_COOKIE, query_lang or "", conn, max_age=365 * 86400))
        # A form may sign the browser in or out: its answer then carries the CSRF cookie of
        # the new sign-in, so the next form works without a page load in between.
        may_sign_in = (
            scope["type"] == "http" and scope["method"] not in SAFE_METHODS and not api_call
        )

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                token_cookie = csrf_cookie
                changed = _sessions_changed(headers) if may_sign_in else {}
                if changed:
                    values = [changed.get(n, conn.cookies.get(n, "")) for n in SESSION_COOKIES]
                    fresh = new_csrf_token(secret, _binding_of(values))
                    token_cookie = _cookie(CSRF_COOKIE, fresh, conn, http_only=True)
                cookies = [*new_cookies, token_cookie] if token_cookie else new_cookies
                headers += [(b"set-cookie", c.encode("latin-1")) for c in cookies]
                message["headers"] = headers
            await send(message)

        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and not scope["path"].startswith("/api/")  # bearer tokens, never cookies
            and not same_site_request(conn, svc.settings.allowed_origins)
        ):
            # Refused before the route runs and before a byte of the body is read.
            refusal = HTTPException(403, _("This form did not come from Relais's own pages."))
            response = await http_error(Request(scope, receive), refusal)
            await response(scope, receive, send_with_cookies)
            return

        # Without cookies to add, the app gets `send` itself: a board socket sends thousands
        # of messages and each would pass through the wrapper for nothing.
        wrap = bool(new_cookies or csrf_cookie or may_sign_in)
        await self.app(scope, receive, send_with_cookies if wrap else send)


def _is_api_call(scope: Scope, conn: HTTPConnection) -> bool:
    """An integration's call: under /api/ with an Authorization header (never a browser
    form, never rendered as a page)."""
    return (
        scope["type"] == "http"
        and scope["path"].startswith("/api/")
        and "authorization" in conn.headers
    )


def _cookie(
    name: str,
    value: str,
    conn: HTTPConnection,
    *,
    http_only: bool = True,
    max_age: int | None = None,
) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["samesite"] = "Lax"
    if http_only:
        morsel["httponly"] = True
    if max_age is not None:
        morsel["max-age"] = max_age
    if is_secure(conn):
        morsel["secure"] = True
    return morsel.OutputString()


def csrf_token(request: HTTPConnection) -> str:
    token: str = request.scope["state"]["csrf_token"]
    return token


def _csrf_refused() -> HTTPException:
    return HTTPException(
        403,
        _("This form has expired or did not come from Relais. Reload the page and try again."),
    )


def check_csrf_header(request: Request) -> None:
    """The X-CSRF-Token header must carry this browser's token, bound to its sign-in: how a
    JSON body (a script's `fetch`) proves it comes from a Relais page. 403 otherwise."""
    secret = services(request).settings.secret_key
    binding = request.scope["state"].get("csrf_binding", "")
    header = request.headers.get(CSRF_HEADER)
    if not csrf_matches(secret, request.cookies.get(CSRF_COOKIE), header, binding):
        raise _csrf_refused()


async def csrf_form(
    request: Request,
    *,
    max_files: int = 0,
    max_fields: int = limits.FORM_MAX_FIELDS,
    max_part_size: int = limits.FORM_MAX_PART,
) -> FormData:
    """Read a form after checking its CSRF token (form field or X-CSRF-Token header), bound
    to the browser's sign-in.

    Every state-changing route reads its form through here, so none can forget the check.
    Without a valid CSRF cookie (or with a wrong header) the form is refused before a byte of
    it is read; a form with too many fields, files or too long a field is refused (413).
    """
    secret = services(request).settings.secret_key
    binding = request.scope["state"].get("csrf_binding", "")
    cookie = request.cookies.get(CSRF_COOKIE)
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        check_csrf_header(request)
    elif not (cookie and csrf_matches(secret, cookie, cookie, binding)):
        raise _csrf_refused()
    try:
        form = await request.form(
            max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
        )
    except HTTPException as error:
        if error.status_code != 400:
            raise  # too large (413) already says so
        raise limits.form_refusal(error) from None
    if header is None:
        submitted = form.get(CSRF_FIELD)
        if not csrf_matches(
            secret, cookie, submitted if isinstance(submitted, str) else None, binding
        ):
            await form.close()
            raise _csrf_refused()
    return form


def public_base_url(request: Request) -> str:
    """Where links in emails point: RELAIS_PUBLIC_URL, which a production start requires, so
    a forged Host header can never put a stranger's address in a password-reset email. Only a
    demo or a test, without it, falls back to the request's own address."""
    return services(request).settings.public_url or str(request.base_url)


def redirect_showing_once(request: Request, path: str, cookie: str, secret: str) -> Response:
    """Post/redirect/get for a secret shown once (a display link, an API token): the page the
    form redirects to reads it from a short-lived cookie scoped to that page, then drops it,
    so reloading neither shows it again nor creates a second one."""
    response = RedirectResponse(path, status_code=303)
    response.set_cookie(
        cookie,
        secret,
        max_age=120,
        path=path,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )
    return response


# -- rendering ---------------------------------------------------------------------------


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def lang_switch_url(request: Request) -> str:
    """The current page in the other language."""
    other = "en" if i18n.current_locale() != "en" else "fr"
    params = dict(request.query_params)
    params["lang"] = other
    return f"{request.url.path}?{urlencode(params)}"


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a whole page; `context` may replace a default (a page whose language is its
    path gives its own `lang_switch_url`)."""
    staff = request.scope["state"].get("staff") or None
    defaults = {
        "request": request,
        "csrf_token": csrf_token(request),
        "csrf_headers": json.dumps({"X-CSRF-Token": csrf_token(request)}),
        "staff": staff,
        "lang_switch_url": lang_switch_url(request),
    }
    body = render(template, **(defaults | context))
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


def attachment(body: bytes | str, media_type: str, filename: str) -> Response:
    """A file to download (a CSV, a zip of a family's data): never cached, never sniffed."""
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
        "form-action 'self'"
    ),
}


# Where answers, errors included, are JSON: the integration API and the parent page's Web
# Push contract (called by scripts and outside clients, never navigated to).
JSON_AREAS = ("/api/", "/parent/push/")


def wants_json(request: HTTPConnection) -> bool:
    return request.url.path.startswith(JSON_AREAS)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (a path may be split across routes:
    GET /login and POST /login), for the Allow header of a 405."""
    methods: set[str] = set()

    def collect(routes: list[BaseRoute], scope: Scope) -> None:
        for route in routes:
            match, child = route.matches(scope)
            if match == Match.NONE:
                continue
            if isinstance(route, Mount):
                if route.routes:
                    collect(route.routes, {**scope, **child})
                else:
                    methods.update(("GET", "HEAD"))  # static files
            elif isinstance(route, Route) and route.methods:
                methods.update(route.methods)

    # Matched from the top: a mounted app (the API, static files) moved root_path down.
    scope = dict(request.scope)
    scope["root_path"] = scope.get("app_root_path", scope.get("root_path", ""))
    collect(request.app.router.routes, scope)
    return sorted(methods)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _("Something went wrong.")
    if exc.status_code == 405:
        message = _("This address does not accept this method.")
    elif exc.status_code == 404 and exc.detail == "Not Found":
        # The router's own 404 (no such page, or an id that is not digits): the same words as
        # an unknown or foreign id, in the visitor's language.
        message = _("Not found, or not yours to see.")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    response: Response
    if wants_json(request):
        response = JSONResponse({"detail": message}, status_code=exc.status_code)
    elif is_htmx(request):
        response = HTMLResponse(
            render("_toast.html", message=message, kind="error"),
            status_code=exc.status_code,
            headers={"HX-Retarget": "#toast", "HX-Reswap": "outerHTML"},
        )
    else:
        response = page(request, "errors/page.html", status_code=exc.status_code, message=message)
    response.headers.update(headers)
    return response


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The database is restarting or unreachable: say it plainly, with a 503 that tells
    clients (and load balancers) to try again."""
    log.warning("database unavailable: %s", exc)  # not the path: it may hold a token
    error = HTTPException(503, _("The database is not answering: try again in a moment."))
    response = await http_error(request, error)
    response.headers["Retry-After"] = "5"
    return response
