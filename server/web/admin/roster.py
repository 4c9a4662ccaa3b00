"""/admin/roster: import a roster file (OneRoster 1.1 CSV zip, or the one-file CSV).

Upload → preview (the plan: counts and the first changes, or the per-row errors; nothing is
applied) → apply. A roster that would deactivate more than a fifth of the active children is
previewed as a warning, and applies only with its confirmation box ticked (checked here, on the
server, by `apply_roster`). The uploaded bytes stay on the server between preview and apply, under
var/roster-uploads/<random id>.bin for an hour; the form carries only the id, so what is
applied is exactly what was previewed, never a copy the browser sends back.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...accounts.authz import StaffPrincipal
from ...accounts.guardians import send_all
from ...core.i18n import _
from ...roster import RosterInvalid, RowError, read_file
from ...roster.apply import (
    KINDS,
    DeactivationsUnconfirmed,
    Plan,
    apply_and_commit,
    plan_roster,
)
from ...roster.csv_rows import MAX_FILE_BYTES
from ..context import csrf_form, public_base_url, services
from ..routing import get, post
from ..sessions import require_admin
from .common import admin_page

UPLOAD_LIFETIME = timedelta(hours=1)
PREVIEW_CHANGES = 50
# Multipart framing and the CSRF field around a file of at most MAX_FILE_BYTES.
MAX_REQUEST_BYTES = MAX_FILE_BYTES + 64 * 1024
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _uploads_dir(request: Request) -> Path:
    return services(request).settings.var_dir / "roster-uploads"


# -- server-side copies of uploaded files (sync: run in a thread) ---------------------------


def _purge(directory: Path, now: datetime) -> None:
    """Remove copies older than an hour (by the time written in their description)."""
    if not directory.is_dir():
        return
    for meta_path in directory.glob("*.json"):
        try:
            created = datetime.fromisoformat(json.loads(meta_path.read_text())["created"])
        except (OSError, ValueError, KeyError):
            created = None
        if created is None or now - created > UPLOAD_LIFETIME:
            meta_path.unlink(missing_ok=True)
            meta_path.with_suffix(".bin").unlink(missing_ok=True)
    # Orphans (a crash between the two writes), judged by file age.
    for bin_path in directory.glob("*.bin"):
        if not bin_path.with_suffix(".json").exists():
            age = time.time() - bin_path.stat().st_mtime
            if age > UPLOAD_LIFETIME.total_seconds():
                bin_path.unlink(missing_ok=True)


def _store(directory: Path, data: bytes, meta: dict[str, Any], now: datetime) -> str:
    _purge(directory, now)
    directory.mkdir(parents=True, exist_ok=True)
    upload_id = secrets.token_urlsafe(24)
    (directory / f"{upload_id}.bin").write_bytes(data)
    (directory / f"{upload_id}.json").write_text(json.dumps(meta))
    return upload_id


def _load(directory: Path, upload_id: str, now: datetime) -> tuple[dict[str, Any], bytes] | None:
    _purge(directory, now)
    if not _UPLOAD_ID.match(upload_id):
        return None
    try:
        meta = json.loads((directory / f"{upload_id}.json").read_text())
        data = (directory / f"{upload_id}.bin").read_bytes()
    except (OSError, ValueError):
        return None
    return (meta, data) if isinstance(meta, dict) else None


def _discard(directory: Path, upload_id: str) -> None:
    (directory / f"{upload_id}.json").unlink(missing_ok=True)
    (directory / f"{upload_id}.bin").unlink(missing_ok=True)


# -- pages -------------------------------------------------------------------------------------


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("errors", [])
    context.setdefault("error", None)
    context.setdefault("plan", None)
    context.setdefault("result", None)
    context.setdefault("confirm_error", None)
    return admin_page(
        request,
        "admin/roster.html",
        "roster",
        status_code=status_code,
        kinds=KINDS,
        kind_labels={
            "installations": _("Installations"),
            "groups": _("Groups"),
            "guardians": _("Guardians"),
            "children": _("Children"),
        },
        max_changes=PREVIEW_CHANGES,
        **context,
    )


def _errors_page(request: Request, filename: str, errors: list[RowError]) -> Response:
    return _page(request, 422, filename=filename, errors=errors)


async def roster_page(request: Request) -> Response:
    await require_admin(request)
    return _page(request)


async def _plan(principal: StaffPrincipal, request: Request, name: str, data: bytes) -> Plan:
    roster = read_file(name, data)
    async with services(request).db.session() as session:
        return await plan_roster(session, principal.organization_id, roster)


async def preview(request: Request) -> Response:
    principal = await require_admin(request)
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_REQUEST_BYTES:
        return _page(request, 413, error=_("The file is too large: at most 20 MB."))
    try:
        form = await csrf_form(request, max_files=1, max_fields=8)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _page(request, 400, error=_("Choose a .zip (OneRoster) or .csv file."))
        data = await upload.read(MAX_FILE_BYTES + 1)
        filename = Path(upload.filename).name[:200]
    finally:
        await request.close()  # the spooled upload
    if len(data) > MAX_FILE_BYTES:
        return _page(request, 413, error=_("The file is too large: at most 20 MB."))
    try:
        plan = await _plan(principal, request, filename, data)
    except RosterInvalid as invalid:
        return _errors_page(request, filename, invalid.errors)
    upload_id = None
    if not plan.empty:
        svc = services(request)
        now = svc.clock.now()
        meta = {
            "organization_id": principal.organization_id,
            "user_id": principal.user_id,
            "filename": filename,
            "created": now.isoformat(),
        }
        upload_id = await run_in_threadpool(_store, _uploads_dir(request), data, meta, now)
    return _page(request, filename=filename, plan=plan, upload_id=upload_id)


async def apply(request: Request) -> Response:
    principal = await require_admin(request)
    form = await csrf_form(request)
    upload_id = str(form.get("upload_id", ""))
    svc = services(request)
    now = svc.clock.now()
    directory = _uploads_dir(request)
    loaded = await run_in_threadpool(_load, directory, upload_id, now)
    if loaded is None or loaded[0].get("organization_id") != principal.organization_id:
        return _page(
            request,
            410,
            error=_("This preview has expired (after an hour). Send the file again."),
        )
    meta, data = loaded
    filename = str(meta.get("filename", "roster"))
    try:
        roster = read_file(filename, data)
        outcome = await apply_and_commit(
            svc.db,
            principal.organization_id,
            roster,
            base_url=public_base_url(request),
            now=now,
            confirm_deactivations=form.get("confirm_deactivations") == "yes",
        )
    except RosterInvalid as invalid:
        return _errors_page(request, filename, invalid.errors)
    except DeactivationsUnconfirmed as unconfirmed:
        # The same preview again, its warning now saying what is missing; the upload is kept.
        return _page(
            request,
            422,
            filename=filename,
            plan=unconfirmed.plan,
            upload_id=upload_id,
            confirm_error=_("Tick the box to confirm the deactivations, or send another file."),
        )
    await svc.publish(outcome.events)
    await run_in_threadpool(_discard, directory, upload_id)
    await send_all(svc.mailer, outcome.emails)
    return _page(request, filename=filename, result=outcome.plan, invitations=len(outcome.emails))


routes: list[BaseRoute] = [
    get("/admin/roster", roster_page, "admin.roster"),
    post("/admin/roster/preview", preview, "admin.roster_preview"),
    post("/admin/roster/apply", apply, "admin.roster_apply"),
]
