"""What a request may carry: the size of its body (checked before a byte of it is read), the
nesting of a JSON body, the fields of a form, and ids the database could hold.

`BodyLimits` wraps every HTTP request's `receive`. A declared Content-Length above the
route's limit is refused at the first read, so nothing of the body is read; a body that grows
past the limit anyway (chunked, or a false Content-Length) is refused as it arrives; a JSON
body nested deeper than `MAX_JSON_DEPTH` is refused before anyone parses it (Python's parser
recurses, and a hostile body of a few kilobytes would exhaust it). The refusals are
`HTTPException`s raised where the route reads its body, so the app answers them the route's
own way: JSON under /api/, a toast for htmx, an error page otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.i18n import _
from ..photos.service import MAX_BYTES as PHOTO_MAX_BYTES
from ..roster.csv_rows import MAX_FILE_BYTES as ROSTER_MAX_BYTES

KB = 1024
MB = 1024 * KB

# A form or an API call: a few fields, never close to this.
DEFAULT_MAX_BODY = 64 * KB
# Multipart framing and a few text fields around an uploaded file.
UPLOAD_OVERHEAD = 64 * KB
# Routes whose bodies carry files (path prefix → limit); the longest matching prefix wins.
BODY_LIMITS: Mapping[str, int] = {
    "/parent/photos/": PHOTO_MAX_BYTES + UPLOAD_OVERHEAD,
    "/admin/roster/preview": ROSTER_MAX_BYTES + UPLOAD_OVERHEAD,
    "/api/v1/roster": ROSTER_MAX_BYTES,
}
# The API's documents nest four levels (a roster's installations → groups); forms none.
MAX_JSON_DEPTH = 32
# Forms: fields per form (a family's children are one field each) and bytes per field.
FORM_MAX_FIELDS = 100
FORM_MAX_PART = 64 * KB

# Internal ids are INTEGER columns: PostgreSQL holds 32 bits. A larger id names nothing.
MAX_ID = 2**31 - 1

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING = frozenset(b"[{")


def size_text(size: int) -> str:
    if size >= MB and size % MB == 0:
        return _("{n} MB").format(n=size // MB)
    return _("{n} KB").format(n=max(1, size // KB))


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, _("The request is too large: {size} at most.").format(size=size_text(limit))
        )
        self.limit = limit


class NestedTooDeeply(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            422,
            _("The JSON is nested too deeply: {depth} levels at most.").format(
                depth=MAX_JSON_DEPTH
            ),
        )


def body_limit(path: str) -> int:
    matches = [prefix for prefix in BODY_LIMITS if path.startswith(prefix)]
    return BODY_LIMITS[max(matches, key=len)] if matches else DEFAULT_MAX_BODY


def json_depth(raw: bytes, stop_at: int = MAX_JSON_DEPTH) -> int:
    """How deep arrays and objects nest in `raw` (brackets inside strings do not count).
    Counting stops past `stop_at`. Not a validator: malformed JSON is the parser's job."""
    depth = deepest = 0
    for byte in _JSON_STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS):
        if byte in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_at:
                    break
        else:
            depth -= 1
    return deepest


def check_json_depth(raw: bytes) -> None:
    # Fewer brackets than the limit cannot nest past it: most bodies stop here.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and json_depth(raw) > MAX_JSON_DEPTH:
        raise NestedTooDeeply()


def parse_id(raw: object) -> int | None:
    """An internal id from a path or a form: plain ASCII digits from 1 to MAX_ID. Anything
    else (letters, signs, spaces, an id too large for the database) is None: "not found"."""
    text = raw if isinstance(raw, str) else ""
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


class IdConvertor(Convertor[int]):
    """`{name:id}` in a route path: an internal id, parsed like `parse_id`. Letters or signs do
    not match the route (404). Digits beyond the database's range match but become 0, an id
    no row has, so the handler answers the same 404 as for an unknown or foreign id."""

    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        return parse_id(value) or 0

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", IdConvertor())


def not_found() -> HTTPException:
    return HTTPException(404, _("Not found, or not yours to see."))


def path_id(path_params: Mapping[str, object], name: str) -> int:
    """The id in the path, or the same 404 as an unknown or foreign one."""
    value = parse_id(path_params.get(name))
    if value is None:
        raise not_found()
    return value


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def limited_receive(receive: Receive, limit: int, *, declared: int | None = None) -> Receive:
    """`receive`, refusing (BodyTooLarge) a declared length above `limit` before reading
    anything, and a body that grows past `limit` as it arrives."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        if declared is not None and declared > limit:
            raise BodyTooLarge(limit)
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return limited


def json_checked_receive(receive: Receive) -> Receive:
    """`receive` for a JSON body: the whole body (already bounded) is read at the first call
    and handed over in one message once its nesting is known to be reasonable."""
    done = False

    async def checked() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        done = True
        body = b"".join(chunks)
        check_json_depth(body)
        return {"type": "http.request", "body": body, "more_body": False}

    return checked


class BodyLimits:
    """Pure ASGI: bounds every request body (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        bounded = limited_receive(receive, body_limit(path), declared=_declared_length(scope))
        if path.startswith("/api/") or _is_json(scope):
            # The API parses every body as JSON, whatever its Content-Type says.
            bounded = json_checked_receive(bounded)
        await self.app(scope, bounded, send)


def form_refusal(error: HTTPException) -> HTTPException:
    """Starlette's technical 400 for a form it could not parse, in plain words: 413 when the
    form broke a limit (too many fields or files, a field too long), 400 otherwise."""
    detail = str(error.detail)
    if detail.startswith(("Too many", "Part exceeded", "Field exceeded")):
        return HTTPException(413, _("The form has too many fields, or a field that is too long."))
    return HTTPException(400, _("The form could not be read. Reload the page and try again."))
