"""A parent's photo upload (/parent/photos/...): read safely (the size is checked before a
byte of the body is read, and again while reading); the photo then waits for the centre's
approval."""

from __future__ import annotations

from functools import partial

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from ...core.i18n import _
from ...core.templating import render
from ...photos import service as photos
from ...photos.service import PhotoError, PhotoRejected
from ..context import csrf_form, csrf_token, is_htmx, page
from ..limits import body_limit
from ..photo_requests import change_photos, photo_target
from ..routing import post
from ..sessions import require_guardian

# The photo plus the form's other fields and the multipart framing (what `BodyLimits` allows
# this route).
MAX_REQUEST_BYTES = body_limit("/parent/photos/")


def _form_fragment(
    request: Request,
    kind: str,
    target_id: int,
    *,
    status_code: int = 200,
    result: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    body = render(
        "parent/_photo_form.html",
        target_kind=kind,
        target_id=target_id,
        csrf_token=csrf_token(request),
        photo_result=result,
        photo_error=error,
    )
    return HTMLResponse(body, status_code=status_code)


def _refusal(request: Request, kind: str, target_id: int, status: int, message: str) -> Response:
    """htmx: the form again, with the message under it. Otherwise the error page."""
    if is_htmx(request):
        return _form_fragment(request, kind, target_id, status_code=status, error=message)
    return page(request, "errors/page.html", status_code=status, message=message)


async def upload(request: Request) -> Response:
    """POST /parent/photos/{kind}/{id}: multipart, field "photo". The photo then waits for the
    centre's approval."""
    principal = await require_guardian(request)
    kind, target_id = photo_target(request)
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise HTTPException(400, _("The upload could not be read. Try again.")) from None
        if length > MAX_REQUEST_BYTES:
            # Answered before reading anything: a 50 MB upload costs us nothing.
            return _refusal(request, kind, target_id, 413, photos.too_large_message())
    try:
        # The CSRF cookie is checked before reading, the token after. Starlette's
        # max_part_size bounds the text fields only, not files: `limits.BodyLimits` bounds the
        # whole body (MAX_REQUEST_BYTES for this route), as it arrives.
        form = await csrf_form(request, max_files=1, max_fields=8, max_part_size=64 * 1024)
    except HTTPException as refused:
        if refused.status_code == 413:
            return _refusal(request, kind, target_id, 413, photos.too_large_message())
        if refused.status_code == 400:  # malformed multipart
            return _refusal(
                request, kind, target_id, 400, _("The upload could not be read. Try again.")
            )
        raise
    try:
        upload = form.get("photo")
        if not isinstance(upload, UploadFile):
            return _refusal(request, kind, target_id, 422, _("Choose a photo to send."))
        data = await upload.read(photos.MAX_BYTES + 1)
    finally:
        await form.close()
    submit = partial(
        photos.submit, principal=principal, target_kind=kind, target_id=target_id, data=data
    )
    try:
        await change_photos(request, submit)
    except PhotoRejected as error:
        return _refusal(request, kind, target_id, error.status, error.reason)
    except PhotoError as error:
        raise HTTPException(error.status, error.message) from None
    if is_htmx(request):
        return _form_fragment(request, kind, target_id, result="pending")
    return RedirectResponse(request.app.url_path_for("parent.home"), status_code=303)


routes: list[BaseRoute] = [
    post("/parent/photos/{kind}/{target_id:id}", upload, "parent.photo_upload")
]
