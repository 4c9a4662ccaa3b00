"""/admin/integrations: the integration with the pickup side (seed: Param → Intégrations).

Administrators only, for their own organization: activate the integration, configure each
installation's centre account (an existing one, or a new one), see a light per installation,
and synchronize the roster in the background with a progress bar that htmx polls.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ...accounts.authz import StaffPrincipal
from ...accounts.guardians import Email, send_all
from ...accounts.passwords import MIN_PASSWORD_LENGTH
from ...core import ratelimit
from ...core.i18n import format_date
from ...core.models import Installation, Organization, SyncJob
from ...core.templating import render
from ...roster import integration
from .. import signin
from ..context import csrf_form, csrf_token, is_htmx, public_base_url, services
from ..lookups import owned
from ..routing import get, post
from ..sessions import require_admin
from .common import admin_form, admin_page, see_other


def _to_installation(request: Request, installation_id: int) -> Response:
    return see_other(request, "admin.integrations", fragment=f"installation-{installation_id}")


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
    activated_on = format_date(activated, organization.timezone)
    return admin_page(
        request,
        "admin/integrations.html",
        "integrations",
        activated_on=activated_on,
        status_code=status_code,
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
    principal, _form = await admin_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        emails = await integration.activate(
            session, principal.organization_id, admin_email=principal.email, now=svc.clock.now()
        )
        await session.commit()
    await send_all(svc.mailer, emails)
    return see_other(request, "admin.integrations")


async def link_existing(request: Request) -> Response:
    principal = await require_admin(request)
    installation_id: int = request.path_params["installation_id"]
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
        installation = await owned(
            session, Installation, installation_id, principal.organization_id
        )
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
        return _to_installation(request, installation_id)
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
    installation_id: int = request.path_params["installation_id"]
    form = await csrf_form(request)
    values = integration.NewAccountForm.parse(form)
    svc = services(request)
    errors: dict[str, str] = {}
    emails: list[Email] = []
    async with svc.db.session() as session:
        installation = await owned(
            session, Installation, installation_id, principal.organization_id
        )
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
    return _to_installation(request, installation_id)


def _sync_fragment(request: Request, job: SyncJob) -> HTMLResponse:
    body = render(
        "admin/_integrations_sync.html", job=_job_view(job), csrf_token=csrf_token(request)
    )
    return HTMLResponse(body)


async def start_sync(request: Request) -> Response:
    principal, _form = await admin_form(request)
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
    return see_other(request, "admin.integrations_progress", job_id=job.id)


async def sync_progress(request: Request) -> Response:
    principal = await require_admin(request)
    async with services(request).db.session() as session:
        job = await owned(
            session, SyncJob, request.path_params["job_id"], principal.organization_id
        )
    if is_htmx(request):
        return _sync_fragment(request, job)
    return await integrations_page(request, principal, job=job)


routes = [
    get("/admin/integrations", home, "admin.integrations"),
    post("/admin/integrations/activate", activate, "admin.integrations_activate"),
    post("/admin/integrations/sync", start_sync, "admin.integrations_sync"),
    get("/admin/integrations/sync/{job_id:id}", sync_progress, "admin.integrations_progress"),
    post(
        "/admin/integrations/{installation_id:id}/existing",
        link_existing,
        "admin.integrations_existing",
    ),
    post(
        "/admin/integrations/{installation_id:id}/create",
        create_account,
        "admin.integrations_create",
    ),
]
