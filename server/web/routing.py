"""A package's routes, one line each: `get(path, endpoint, name)`, `post(…)`.

Plumbing at the web root: every audience's package imports it; it imports none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def get(path: str, endpoint: Endpoint, name: str | None = None) -> Route:
    """A page (GET, and HEAD with it), named `name` for `url_for`."""
    return Route(path, endpoint, methods=["GET"], name=name)


def post(path: str, endpoint: Endpoint, name: str | None = None) -> Route:
    """A form's action (POST), named `name` for `url_for`."""
    return Route(path, endpoint, methods=["POST"], name=name)


def page_and_form(path: str, endpoint: Endpoint, name: str | None = None) -> Route:
    """One endpoint for a page and its form: GET shows it, POST sends it."""
    return Route(path, endpoint, methods=["GET", "POST"], name=name)
