"""Photos of children and guardians over HTTP: a parent's upload, the centre's approval, and
serving the pictures to those allowed to see them (never publicly, never cached).

The image checks and the rules are in `server.photos.service`; here only reading requests safely
(the size is checked before a byte of the body is read, and again while reading) and answering.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..accounts.authz import CenterPrincipal, GuardianPrincipal, StaffPrincipal
from ..core.i18n import _
from ..core.templating import render
from ..photos import service as photos
from ..photos.service import PhotoError, PhotoRejected, TargetKind
from .context import csrf_form, csrf_token, is_htmx, page, require_admin, services, staff_principal
from .limits import body_limit, path_id
from .parent_session import guardian_principal, require_guardian
from .portal import center_principal, require_center

# The photo plus the form's other fields and the multipart framing (what `BodyLimits` allows
# this route).
MAX_REQUEST_BYTES = body_limit("/parent/photos/")

PHOTO_HEADERS = {
    "Cache-Control": "private, no-store, max-age=0",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "same-origin",
}


def _not_found() -> HTTPException:
    return HTTPException(404, _("Not found, or not yours to see."))


def _target(request: Request) -> tuple[TargetKind, int]:
    kind = photos.parse_kind(str(request.path_params.get("kind", "")))
    if kind is None:
        raise _not_found()
    return kind, path_id(request.path_params, "target_id")


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
    kind, target_id = _target(request)
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
    svc = services(request)
    async with svc.db.session() as session:
        try:
            outcome = await photos.submit(
                session,
                principal=principal,
                target_kind=kind,
                target_id=target_id,
                data=data,
                photos_dir=svc.settings.photos_dir,
                now=svc.clock.now(),
            )
        except PhotoRejected as error:
            return _refusal(request, kind, target_id, error.status, error.reason)
        except PhotoError as error:
            raise HTTPException(error.status, error.message) from None
        try:
            await session.commit()
        except BaseException:
            photos.remove_files(svc.settings.photos_dir, [outcome.new_file])
            raise
    await asyncio.to_thread(photos.remove_files, svc.settings.photos_dir, outcome.stale_files)
    await svc.publish(outcome.events)
    if is_htmx(request):
        return _form_fragment(request, kind, target_id, result="pending")
    return RedirectResponse("/parent", status_code=303)


async def serve(request: Request) -> Response:
    """GET /photos/{kind}/{id}[?pending=1]: the JPEG, to staff of the organization (admins
    anywhere, others in their installation), the child's guardians and authorized persons,
    or the guardian themself. Everyone else: 404, as if it did not exist."""
    kind, target_id = _target(request)
    pending = request.query_params.get("pending") == "1"
    viewers: list[StaffPrincipal | GuardianPrincipal | CenterPrincipal] = []
    staff = await staff_principal(request)
    if staff is not None:
        viewers.append(staff)
    centre = await center_principal(request)
    if centre is not None:
        viewers.append(centre)
    guardian = await guardian_principal(request)
    if guardian is not None:
        viewers.append(guardian)
    if not viewers:
        raise _not_found()
    svc = services(request)
    async with svc.db.session() as session:
        name = await photos.visible_photo(session, viewers, kind, target_id, pending=pending)
    if name is None:
        raise _not_found()
    try:
        path = photos.photo_path(svc.settings.photos_dir, name)
        data = await asyncio.to_thread(path.read_bytes)
    except (ValueError, OSError):
        raise _not_found() from None
    return Response(data, media_type="image/jpeg", headers=PHOTO_HEADERS)


async def _decide(request: Request, approve: bool) -> Response:
    # The centre portal decides for its installation; /admin for the whole organization.
    from_portal = request.url.path.startswith("/portal/")
    principal: StaffPrincipal | CenterPrincipal = (
        await require_center(request) if from_portal else await require_admin(request)
    )
    form = await csrf_form(request)
    kind, target_id = _target(request)
    expected = form.get("pending")
    svc = services(request)
    async with svc.db.session() as session:
        try:
            outcome = await photos.decide(
                session,
                principal=principal,
                target_kind=kind,
                target_id=target_id,
                approve=approve,
                photos_dir=svc.settings.photos_dir,
                now=svc.clock.now(),
                expected_pending=expected if isinstance(expected, str) and expected else None,
            )
        except PhotoError as error:
            raise HTTPException(error.status, error.message) from None
        await session.commit()
    await asyncio.to_thread(photos.remove_files, svc.settings.photos_dir, outcome.stale_files)
    await svc.publish(outcome.events)
    return RedirectResponse("/portal/approvals" if from_portal else "/admin", status_code=303)


async def approve(request: Request) -> Response:
    """The green "Oui": the new photo becomes the photo."""
    return await _decide(request, True)


async def refuse(request: Request) -> Response:
    """The "Non": the new photo is discarded; the former one stays."""
    return await _decide(request, False)


async def admin_context(session: AsyncSession, principal: StaffPrincipal) -> dict[str, Any]:
    """What the /admin page's "Pending approval" section shows."""
    return {"pending_photos": await photos.pending_photos(session, principal.organization_id)}


routes: list[BaseRoute] = [
    Route("/parent/photos/{kind}/{target_id}", upload, methods=["POST"]),
    Route("/photos/{kind}/{target_id}", serve, methods=["GET"]),
    Route("/admin/photos/{kind}/{target_id}/approve", approve, methods=["POST"]),
    Route("/admin/photos/{kind}/{target_id}/refuse", refuse, methods=["POST"]),
    Route("/portal/photos/{kind}/{target_id}/approve", approve, methods=["POST"]),
    Route("/portal/photos/{kind}/{target_id}/refuse", refuse, methods=["POST"]),
]
