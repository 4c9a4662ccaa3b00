"""What the photo routes of every area share: the target in the path, a photo change run in
one transaction (files cleaned up on both sides of the commit), and the approval decision
with its two routes (the same for the director at /admin and the centre at /portal)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from ..accounts.authz import CenterPrincipal, StaffPrincipal
from ..photos import service as photos
from ..photos.service import PhotoError, PhotoOutcome, TargetKind
from .context import csrf_form, services
from .limits import not_found
from .routing import post


def photo_target(request: Request) -> tuple[TargetKind, int]:
    """Whose photo the path names (`{kind}/{target_id:id}`): ("child" or "guardian", id).
    404 for any other kind, and for an id out of range (0), before anything is read."""
    kind = photos.parse_kind(str(request.path_params.get("kind", "")))
    target_id: int = request.path_params["target_id"]
    if kind is None or not target_id:
        raise not_found()
    return kind, target_id


class PhotoChange(Protocol):
    """A use-case of `photos.service` with all but the session, the folder and the time."""

    def __call__(
        self, session: AsyncSession, *, photos_dir: Path, now: datetime
    ) -> Awaitable[PhotoOutcome]: ...


async def change_photos(request: Request, change: PhotoChange) -> None:
    """Run `change` and commit: the file it wrote is removed if the commit fails, the files no
    row refers to any more after it; then the boards are told. The service's `PhotoError`s
    pass through, for the route to answer."""
    svc = services(request)
    folder = svc.settings.photos_dir
    async with svc.db.session() as session:
        outcome = await change(session, photos_dir=folder, now=svc.clock.now())
        try:
            await session.commit()
        except BaseException:
            photos.remove_files(folder, [outcome.new_file])
            raise
    await asyncio.to_thread(photos.remove_files, folder, outcome.stale_files)
    await svc.publish(outcome.events)


async def decide(
    request: Request, principal: StaffPrincipal | CenterPrincipal, approve: bool
) -> None:
    """Approve or refuse the pending photo the path names; the boards are told."""
    form = await csrf_form(request)
    kind, target_id = photo_target(request)
    expected = form.get("pending")

    try:
        await change_photos(
            request,
            partial(
                photos.decide,
                principal=principal,
                target_kind=kind,
                target_id=target_id,
                approve=approve,
                expected_pending=expected if isinstance(expected, str) and expected else None,
            ),
        )
    except PhotoError as error:
        raise HTTPException(error.status, error.message) from None


# Who may decide in an area (`require_admin`, `require_center`): 403 or sign-in for others.
Approver = Callable[[HTTPConnection], Awaitable[StaffPrincipal | CenterPrincipal]]


def decision_routes(area: str, approver: Approver, *, back: str) -> list[BaseRoute]:
    """An area's green « Oui » (the new photo becomes the photo) and « Non » (it is discarded;
    the former one stays): POST /{area}/photos/{kind}/{target_id:id}/approve and …/refuse,
    named "{area}.photo_approve" and "{area}.photo_refuse", then back to the page `back`."""

    def decided(approve: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            await decide(request, await approver(request), approve=approve)
            return RedirectResponse(request.app.url_path_for(back), status_code=303)

        return endpoint

    return [
        post(
            f"/{area}/photos/{{kind}}/{{target_id:id}}/{verdict}",
            decided(verdict == "approve"),
            f"{area}.photo_{verdict}",
        )
        for verdict in ("approve", "refuse")
    ]
