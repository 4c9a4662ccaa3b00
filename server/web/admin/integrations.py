"""/admin/integrations: the integration with the pickup side (seed: Param → Intégrations).

Administrators only, for their own organization: activate the integration, configure each
installation's centre account (an existing one, or a new one), see a light per installation,
and synchronize the roster in the background with a progress bar that htmx polls.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ...accounts.authz import StaffPrincipal
from ...accounts.guardians import Email, send_all
from ...accounts.passwords import MIN_PASSWORD_LENGTH
from ...core import ratelimit
from ...core.i18n import _
from ...core.models import Organization, SyncJob
from ...core.templating import render
from ...roster import integration
from ..auth import signin
from ..context import (
    csrf_form,
    csrf_token,
    is_htmx,
    page,
    public_base_url,
    services,
)
from ..limits import path_id
from ..sessions import require_admin

HOME = "/admin/integrations"


def _not_found() -> HTTPException:
    return HTTPException(404, _("Not found, or not yours to see."))


def _int_param(request: Request, name: str) -> int:
    return path_id(request.path_params, name)


def _job_view(job: SyncJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "id": job.id,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "counts": integration.SyncCounts.from_json(job.summary),
    }


async def integrations_page(
    request: Request,
    principal: StaffPrincipal,
    *,
    status_code: int = 200,
    form_for: int | None = None,
    form_kind: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    job: SyncJob | None = None,
) -> Response:
    async with services(request).db.session() as session:
        organization = await session.get(Organization, principal.organization_id)
        assert organization is not None
        rows = await integration.statuses(session, principal.organization_id)
        if job is None:
            job = await integration.latest_job(session, principal.organization_id)
    activated = organization.integration_activated_at
    activated_on = (
        activated.astimezone(ZoneInfo(organization.timezone)).strftime("%Y-%m-%d")
        if activated is not None
        else ""
    )
    return page(
        request,
        "admin/integrations.html",
        activated_on=activated_on,
        status_code=status_code,
        admin_section="integrations",
        organization=organization,
        rows=rows,
        problem_text=integration.problem_text,
        form_for=form_for,
        form_kind=form_kind,
        values=values or {},
        errors=errors or {},
        job=_job_view(job),
        min_password=MIN_PASSWORD_LENGTH,
    )


async def home(request: Request) -> Response:
    principal = await require_admin(request)
    return await integrations_page(request, principal)


async def activate(request: Request) -> Response:
    principal = await require_admin(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        emails = await integration.activate(
            session, principal.organization_id, admin_email=principal.email, now=svc.clock.now()
        )
        await session.commit()
    await send_all(svc.mailer, emails)
    return RedirectResponse(HOME, status_code=303)


async def link_existing(request: Request) -> Response:
    principal = await require_admin(request)
    installation_id = _int_param(request, "installation_id")
    form = await csrf_form(request)
    email = str(form.get("email", "")).strip()[:254]
    password = str(form.get("password", ""))
    svc = services(request)
    now = svc.clock.now()
    # Checking a centre account's password is a sign-in: slowed like one, per administrator
    # and per account typed.
    attempt = signin.Attempt(
        "portal",
        email.lower(),
        (
            (f"link-centre:staff:{principal.user_id}", ratelimit.SIGN_IN_ACCOUNT),
            (ratelimit.email_key("link-centre", email), ratelimit.SIGN_IN_ACCOUNT),
        ),
        None,
    )
    async with svc.db.session() as session:
        installation = await integration.installation_of(
            session, principal.organization_id, installation_id
        )
        if installation is None:
            raise _not_found()
        refused = await signin.refused(session, attempt, now)
        if refused is not None:
            wait = await integrations_page(
                request,
                principal,
                form_for=installation_id,
                form_kind="existing",
                values={"email": email},
                errors={"existing": ratelimit.rate_limited_message(refused)},
            )
            return signin.too_many(wait, refused)
        problem = await integration.link_existing(session, installation, email, password)
        if problem == integration.WRONG_CREDENTIALS:
            await signin.failed(session, attempt, now)
        elif problem is None:
            await signin.succeeded(session, attempt)
        await session.commit()
    if problem is None:
        return RedirectResponse(f"{HOME}#installation-{installation_id}", status_code=303)
    return await integrations_page(
        request,
        principal,
        status_code=400,
        form_for=installation_id,
        form_kind="existing",
        values={"email": email},
        errors={"existing": integration.problem_text(problem)},
    )


async def create_account(request: Request) -> Response:
    principal = await require_admin(request)
    installation_id = _int_param(request, "installation_id")
    form = await csrf_form(request)
    values = integration.NewAccountForm.parse(form)
    svc = services(request)
    errors: dict[str, str] = {}
    emails: list[Email] = []
    async with svc.db.session() as session:
        installation = await integration.installation_of(
            session, principal.organization_id, installation_id
        )
        if installation is None:
            raise _not_found()
        errors, emails = await integration.create_account(
            session, installation, values, now=svc.clock.now()
        )
        if not errors:
            try:
                await session.commit()
            except IntegrityError as error:
                await session.rollback()
                if not integration.is_duplicate(error):
                    raise
                errors = {"form": integration.already_linked_message()}
                emails = []
    if errors:
        return await integrations_page(
            request,
            principal,
            status_code=400,
            form_for=installation_id,
            form_kind="create",
            values={"display_name": values.display_name, "email": values.email},
            errors=errors,
        )
    await send_all(svc.mailer, emails)
    return RedirectResponse(f"{HOME}#installation-{installation_id}", status_code=303)


def _sync_fragment(request: Request, job: SyncJob) -> HTMLResponse:
    body = render(
        "admin/_integrations_sync.html", job=_job_view(job), csrf_token=csrf_token(request)
    )
    return HTMLResponse(body)


async def start_sync(request: Request) -> Response:
    principal = await require_admin(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        job = await integration.running_job(session, principal.organization_id)
        if job is None:
            job = await integration.create_job(
                session, principal.organization_id, now=svc.clock.now()
            )
            await session.commit()
            assert job.id is not None
            integration.start_in_background(
                svc.db, svc.mailer, svc.clock.now, job.id, public_base_url(request)
            )
    if is_htmx(request):
        return _sync_fragment(request, job)
    return RedirectResponse(f"{HOME}/sync/{job.id}", status_code=303)


async def sync_progress(request: Request) -> Response:
    principal = await require_admin(request)
    job_id = _int_param(request, "job_id")
    async with services(request).db.session() as session:
        job = await session.get(SyncJob, job_id)
    if job is None or job.organization_id != principal.organization_id:
        raise _not_found()
    if is_htmx(request):
        return _sync_fragment(request, job)
    return await integrations_page(request, principal, job=job)


routes = [
    Route(HOME, home, methods=["GET"]),
    Route(f"{HOME}/activate", activate, methods=["POST"]),
    Route(f"{HOME}/sync", start_sync, methods=["POST"]),
    Route(f"{HOME}/sync/{{job_id}}", sync_progress, methods=["GET"]),
    Route(f"{HOME}/{{installation_id}}/existing", link_existing, methods=["POST"]),
    Route(f"{HOME}/{{installation_id}}/create", create_account, methods=["POST"]),
]
