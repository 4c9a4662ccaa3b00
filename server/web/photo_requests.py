"""What the photo routes of every area read from a request: the target in the path, and the
approval decision (the same for the director at /admin and the centre at /portal)."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..accounts.authz import CenterPrincipal, StaffPrincipal
from ..photos import service as photos
from ..photos.service import PhotoError, TargetKind
from .context import csrf_form, services
from .limits import not_found, path_id


def photo_target(request: Request) -> tuple[TargetKind, int]:
    """Whose photo the path names: ("child" or "guardian", id). 404 for anything else."""
    kind = photos.parse_kind(str(request.path_params.get("kind", "")))
    if kind is None:
        raise not_found()
    return kind, path_id(request.path_params, "target_id")


async def decide(
    request: Request, principal: StaffPrincipal | CenterPrincipal, approve: bool
) -> None:
    """Approve or refuse the pending photo the path names; the boards are told."""
    form = await csrf_form(request)
    kind, target_id = photo_target(request)
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
