"""/admin/integrations: activation, the light per installation configured both ways (the link's
real state, never the last form's typo), the duplicate address refused, a password change that
does not cut the link, and the roster sync (invitations, idempotence, a changed address
re-invited, a guardian invited less than 24 hours ago left alone) with its progress fragment."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server import demo
from server.core.clock import ManualClock
from server.core.models import (
    CenterAccount,
    Child,
    Guardian,
    Installation,
    Organization,
    OutboxMessage,
    SyncJob,
)
from server.core.security import hash_password
from server.roster import integration
from tests.helpers import T0, api_headers, csrf, in_db, login, other_organization
from tests.unit.test_roster_deactivations import whole_roster

ADMIN = "direction@example.org"
CENTRE = "centre.erables@example.org"
CENTRE_PASSWORD = "demo-relais-2026"
NEW_PASSWORD = "a-long-centre-password"
INVITATION_SUBJECT = "Relais — Activez votre compte / Activate your account"


@pytest.fixture(autouse=True)
def not_set_up_yet(database_url: str) -> None:
    """The demo comes configured; these tests start from an organization that has not
    activated the integration, with Pavillon des Bouleaux not linked yet."""

    async def reset(session: AsyncSession) -> None:
        await session.execute(update(Organization).values(integration_activated_at=None))
        bou = (
            await session.execute(
                select(col(Installation.id)).where(col(Installation.external_id) == "BOU")
            )
        ).scalar_one()
        await session.execute(
            delete(CenterAccount).where(col(CenterAccount.installation_id) == bou)
        )

    in_db(database_url, reset)


def as_admin(client: TestClient, lang: str = "en") -> None:
    login(client, ADMIN)
    client.get(f"/admin/integrations?lang={lang}")


def post(client: TestClient, path: str, data: dict[str, str] | None = None, **kw: Any) -> Any:
    return client.post(
        path,
        data={**(data or {}), "csrf_token": csrf(client)["X-CSRF-Token"]},
        follow_redirects=False,
        **kw,
    )


def link_existing(
    client: TestClient, installation_id: int | None, password: str = CENTRE_PASSWORD, **typed: str
) -> Any:
    """The administrator links an installation to an existing centre account (`typed`: what
    else is typed in the form; the email by default the demo centre's)."""
    fields = {"email": CENTRE, "password": password, **typed}
    return post(client, f"/admin/integrations/{installation_id}/existing", fields)


def installation(database_url: str, external_id: str) -> Installation:
    async def load(session: AsyncSession) -> Installation:
        return (
            await session.execute(
                select(Installation).where(col(Installation.external_id) == external_id)
            )
        ).scalar_one()

    return in_db(database_url, load)


def other_installation(database_url: str) -> Installation:
    async def load(session: AsyncSession) -> Installation:
        return (
            await session.execute(
                select(Installation).where(col(Installation.external_id) != "ERA")
            )
        ).scalar_one()

    return in_db(database_url, load)


def outbox(database_url: str) -> list[OutboxMessage]:
    async def load(session: AsyncSession) -> list[OutboxMessage]:
        rows = await session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(rows.scalars().all())

    return in_db(database_url, load)


def accounts(database_url: str) -> list[CenterAccount]:
    async def load(session: AsyncSession) -> list[CenterAccount]:
        return list((await session.execute(select(CenterAccount))).scalars().all())

    return in_db(database_url, load)


def row_state(html: str, installation_id: int | None) -> str:
    row = html.split(f'id="installation-{installation_id}"', 1)[1].split("</li>", 1)[0]
    match = re.search(r'data-state="(\w+)"', row)
    assert match is not None
    return match.group(1)


def row_text(html: str, installation_id: int | None) -> str:
    return html.split(f'id="installation-{installation_id}"', 1)[1].split("</li>", 1)[0]


# -- activation and lights ------------------------------------------------------------------------


def test_activation_records_the_date_and_emails_the_admin_once(
    client: TestClient, database_url: str
) -> None:
    as_admin(client)
    page = client.get("/admin/integrations")
    assert page.status_code == 200
    assert "Activate the integration" in page.text
    era, other = installation(database_url, "ERA"), other_installation(database_url)
    # The demo's first installation has its centre account: green. The other: red, not configured.
    assert row_state(page.text, era.id) == "ok"
    assert row_state(page.text, other.id) == "error"
    assert "Not configured." in row_text(page.text, other.id)

    assert post(client, "/admin/integrations/activate").status_code == 303
    assert post(client, "/admin/integrations/activate").status_code == 303

    async def org(session: AsyncSession) -> Organization:
        return (await session.execute(select(Organization))).scalar_one()

    assert in_db(database_url, org).integration_activated_at == T0
    mails = [m for m in outbox(database_url) if m.to == ADMIN]
    assert len(mails) == 1 and "activ" in mails[0].subject.lower()
    assert "Integration activated on Nov 24, 2026." in client.get("/admin/integrations").text


def test_a_typo_in_the_existing_account_form_leaves_a_working_link_green(
    client: TestClient, database_url: str
) -> None:
    """The issue's case: a wrong password typed in « J'ai déjà un compte » for an installation
    whose link works. The form says what was wrong; the light keeps the link's real state."""
    as_admin(client)
    era = installation(database_url, "ERA")
    before = accounts(database_url)
    wrong = link_existing(client, era.id, "not-the-password")
    assert wrong.status_code == 400
    row = row_text(wrong.text, era.id)
    assert row_state(wrong.text, era.id) == "ok"
    assert "Linked and working" in row
    # The error sits in the form (opened), beside the fields, not in the light.
    assert 'class="integrations-configure" open' in row
    assert f'id="existing-{era.id}-error">Wrong email or password.</p>' in row
    assert f'value="{CENTRE}"' in wrong.text  # the typed address is kept
    assert "not-the-password" not in wrong.text
    assert accounts(database_url) == before  # nothing else changed
    # Reloaded: still green, and the form's error is gone with the form.
    again = client.get("/admin/integrations").text
    assert row_state(again, era.id) == "ok" and "Wrong email or password." not in again

    right = link_existing(client, era.id, email=CENTRE.upper())
    assert right.status_code == 303
    assert row_state(client.get("/admin/integrations").text, era.id) == "ok"


def test_a_wrong_password_for_an_unlinked_installation_keeps_it_not_configured(
    client: TestClient, database_url: str
) -> None:
    as_admin(client)
    other = other_installation(database_url)
    wrong = link_existing(client, other.id, "not-the-password")
    assert wrong.status_code == 400
    assert row_state(wrong.text, other.id) == "error"
    row = row_text(wrong.text, other.id)
    assert "Not configured." in row and "Wrong email or password." in row
    assert row_state(client.get("/admin/integrations").text, other.id) == "error"


def test_an_account_of_another_installation_is_refused(
    client: TestClient, database_url: str
) -> None:
    as_admin(client)
    other = other_installation(database_url)
    answer = link_existing(client, other.id)
    assert answer.status_code == 400
    assert "This account belongs to another installation." in row_text(answer.text, other.id)
    assert row_state(answer.text, other.id) == "error"


def test_french_is_the_default(client: TestClient, database_url: str) -> None:
    login(client, ADMIN)
    era = installation(database_url, "ERA")
    wrong = link_existing(client, era.id, "x")
    assert wrong.status_code == 400
    assert 'lang="fr' in wrong.text


def test_create_an_account_turns_green_emails_it_and_signs_in_to_the_portal(
    client: TestClient, database_url: str
) -> None:
    as_admin(client)
    other = other_installation(database_url)
    form = client.get("/admin/integrations").text
    # The name parents see defaults to the installation's name.
    assert f'value="{other.display_name or other.name}"' in row_text(form, other.id)
    created = post(
        client,
        f"/admin/integrations/{other.id}/create",
        {
            "display_name": "Les Érables — Bouleaux",
            "email": "Bouleaux@Example.org",
            "password": NEW_PASSWORD,
            "password_confirmation": NEW_PASSWORD,
        },
    )
    assert created.status_code == 303, created.text
    page = client.get("/admin/integrations").text
    assert row_state(page, other.id) == "ok"
    assert "bouleaux@example.org" in row_text(page, other.id)
    assert installation(database_url, other.external_id).display_name == "Les Érables — Bouleaux"
    mails = [m for m in outbox(database_url) if m.to == "bouleaux@example.org"]
    assert len(mails) == 1 and "Les Érables — Bouleaux" in mails[0].body

    client.get("/portal/login")
    signed_in = post(
        client, "/portal/login", {"email": "bouleaux@example.org", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 303


def test_a_duplicate_account_email_is_refused_and_nothing_is_created(
    client: TestClient, database_url: str
) -> None:
    as_admin(client)
    other = other_installation(database_url)
    before = accounts(database_url)
    answer = post(
        client,
        f"/admin/integrations/{other.id}/create",
        {
            "display_name": "Nouveau nom",
            "email": CENTRE.upper(),
            "password": NEW_PASSWORD,
            "password_confirmation": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 400
    assert (
        "The account could not be created: another installation of yours already uses this "
        "email address." in answer.text
    )
    assert 'aria-invalid="true"' in row_text(answer.text, other.id)
    assert 'value="Nouveau nom"' in answer.text  # typed values kept
    assert accounts(database_url) == before
    assert installation(database_url, other.external_id).display_name == other.display_name
    assert row_state(answer.text, other.id) == "error"
    assert outbox(database_url) == []


def test_invalid_new_account_values_are_refused_next_to_each_field(
    client: TestClient, database_url: str
) -> None:
    as_admin(client)
    other = other_installation(database_url)
    for values, field in (
        ({"display_name": "", "email": "x@example.org"}, "display_name"),
        ({"display_name": "N", "email": "not-an-email"}, "email"),
        ({"display_name": "N", "email": "x@example.org", "password": "short"}, "password"),
        (
            {
                "display_name": "N",
                "email": "x@example.org",
                "password": NEW_PASSWORD,
                "password_confirmation": NEW_PASSWORD + "!",
            },
            "password_confirmation",
        ),
    ):
        answer = post(client, f"/admin/integrations/{other.id}/create", values)
        assert answer.status_code == 400
        assert f'id="create-{other.id}-{field}-error"' in answer.text
    assert len(accounts(database_url)) == 1


def test_changing_the_centre_password_does_not_cut_the_link(
    client: TestClient, database_url: str
) -> None:
    as_admin(client)
    era = installation(database_url, "ERA")
    assert link_existing(client, era.id).status_code == 303

    async def change(session: AsyncSession) -> None:
        await session.execute(
            update(CenterAccount)
            .where(col(CenterAccount.email) == CENTRE)
            .values(password_hash=hash_password(NEW_PASSWORD))
        )

    in_db(database_url, change)
    assert row_state(client.get("/admin/integrations").text, era.id) == "ok"
    client.get("/portal/login")
    assert post(
        client, "/portal/login", {"email": CENTRE, "password": NEW_PASSWORD}
    ).status_code == (303)


# -- who may ---------------------------------------------------------------------------------------


def test_an_educator_is_refused(client: TestClient, database_url: str) -> None:
    login(client, "educatrice@example.org")
    era = installation(database_url, "ERA")
    assert client.get("/admin/integrations").status_code == 403
    assert post(client, "/admin/integrations/activate").status_code == 403
    assert post(client, "/admin/integrations/sync").status_code == 403
    assert link_existing(client, era.id).status_code == 403
    assert client.get("/admin/integrations/1", follow_redirects=False).status_code in {
        403,
        404,
        405,
    }


def test_another_organizations_installation_and_job_are_not_found(
    client: TestClient, database_url: str
) -> None:
    async def stranger(session: AsyncSession) -> tuple[int, int]:
        org_id, inst, _ = await other_organization(session, "Ailleurs")
        job = await demo.add(session, SyncJob(organization_id=org_id, status="done", started_at=T0))
        return demo.id_of(inst), demo.id_of(job)

    inst_id, job_id = in_db(database_url, stranger)
    as_admin(client)
    existing = link_existing(client, inst_id)
    assert existing.status_code == 404
    created = post(
        client,
        f"/admin/integrations/{inst_id}/create",
        {
            "display_name": "X",
            "email": "x@example.org",
            "password": NEW_PASSWORD,
            "password_confirmation": NEW_PASSWORD,
        },
    )
    assert created.status_code == 404
    assert client.get(f"/admin/integrations/sync/{job_id}").status_code == 404
    assert post(client, "/admin/integrations/abc/existing", {}).status_code == 404
    assert accounts(database_url)[0].email == CENTRE and len(accounts(database_url)) == 1


# -- the roster sync -----------------------------------------------------------------------------


def run_sync(client: TestClient) -> dict[str, int]:
    """Start a sync as the page does, then poll its fragment (bounded) until it is done."""
    started = post(client, "/admin/integrations/sync")
    assert started.status_code == 303
    job_url = started.headers["location"]
    assert re.fullmatch(r"/admin/integrations/sync/\d+", job_url)
    fragment = ""
    for _ in range(2000):
        answer = client.get(job_url, headers={"HX-Request": "true"})
        assert answer.status_code == 200
        fragment = answer.text
        if "Synchronization finished." in fragment:
            break
    else:
        raise AssertionError(f"the sync did not finish: {fragment}")
    assert "<progress" in fragment and "<html" not in fragment
    assert 'hx-trigger="every 1s"' not in fragment  # polling stops when done
    return {key: int(value) for key, value in re.findall(r'data-count="(\w+)">(\d+)<', fragment)}


def invitations(database_url: str) -> list[OutboxMessage]:
    return [m for m in outbox(database_url) if m.subject == INVITATION_SUBJECT]


def test_sync_invites_once_and_reinvites_a_changed_address(
    client: TestClient, database_url: str, clock: ManualClock
) -> None:
    async def prepare(session: AsyncSession) -> tuple[int, int]:
        # One child no longer pickup-enabled: its guardian is not synced.
        await session.execute(
            update(Child).where(col(Child.external_id) == "C0001").values(pickup_enabled=False)
        )
        invited = (
            await session.execute(
                select(func.count())
                .select_from(Guardian)
                .where(
                    col(Guardian.account_state) == "invited",
                    col(Guardian.kind) == "guardian",
                    col(Guardian.external_id) != "G0001",
                )
            )
        ).scalar_one()
        active = (
            await session.execute(
                select(func.count())
                .select_from(Guardian)
                .where(col(Guardian.account_state) == "active")
            )
        ).scalar_one()
        return int(invited), int(active)

    expected_invited, expected_active = in_db(database_url, prepare)
    assert expected_invited > integration.SYNC_BATCH  # several batches
    as_admin(client)

    first = run_sync(client)
    assert first == {
        "invited": expected_invited,
        "reinvited": 0,
        "unchanged": expected_active,
        "children_removed": 1,
    }
    sent = invitations(database_url)
    assert len(sent) == expected_invited
    assert "parent0001@example.org" not in {m.to for m in sent}
    assert "parent0002@example.org" in {m.to for m in sent}

    async def guardian(session: AsyncSession) -> Guardian:
        return (
            await session.execute(select(Guardian).where(col(Guardian.external_id) == "G0002"))
        ).scalar_one()

    assert in_db(database_url, guardian).invited_email == "parent0002@example.org"

    # Run again at once: nothing new is sent, and the summary says why for those just invited.
    second = run_sync(client)
    assert second == {
        "invited": 0,
        "reinvited": 0,
        "recently_invited": expected_invited,
        "unchanged": expected_active,
        "children_removed": 1,
    }
    assert len(invitations(database_url)) == expected_invited

    # A day later they count as unchanged: still nothing new sent (idempotent).
    clock.advance(timedelta(hours=25))
    as_admin(client)  # a day later the director signs in again
    later = run_sync(client)
    assert later["invited"] == 0 and later["reinvited"] == 0
    assert later["unchanged"] == expected_invited + expected_active
    assert "recently_invited" not in later
    assert len(invitations(database_url)) == expected_invited

    async def change(session: AsyncSession) -> None:
        await session.execute(
            update(Guardian)
            .where(col(Guardian.external_id) == "G0002")
            .values(email="nouvelle.adresse@example.org")
        )

    in_db(database_url, change)
    third = run_sync(client)
    assert third["invited"] == 0 and third["reinvited"] == 1
    latest = invitations(database_url)
    assert len(latest) == expected_invited + 1
    assert latest[-1].to == "nouvelle.adresse@example.org"
    assert in_db(database_url, guardian).invited_email == "nouvelle.adresse@example.org"

    # The same route without HX-Request serves the whole page, with the summary.
    async def last_job(session: AsyncSession) -> int:
        job = (await session.execute(select(SyncJob).order_by(col(SyncJob.id).desc()))).scalars()
        found = job.first()
        assert found is not None and found.id is not None and found.status == "done"
        return found.id

    full = client.get(f"/admin/integrations/sync/{in_db(database_url, last_job)}")
    assert full.status_code == 200
    assert "<html" in full.text and 'data-count="reinvited">1<' in full.text


def test_the_progress_fragment_polls_while_running(client: TestClient, database_url: str) -> None:
    async def running(session: AsyncSession) -> int:
        org = (await session.execute(select(Organization))).scalar_one()
        assert org.id is not None
        job = SyncJob(organization_id=org.id, status="running", total=120, done=50, started_at=T0)
        session.add(job)
        await session.flush()
        assert job.id is not None
        return job.id

    job_id = in_db(database_url, running)
    as_admin(client)
    fragment = client.get(f"/admin/integrations/sync/{job_id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert '<progress value="50" max="120">' in fragment.text
    assert f'hx-get="/admin/integrations/sync/{job_id}"' in fragment.text
    assert 'hx-trigger="every 1s"' in fragment.text
    assert "<html" not in fragment.text
    # A sync already running for the organization is not started twice.
    again = post(client, "/admin/integrations/sync", headers={"HX-Request": "true"})
    assert again.status_code == 200
    assert f'hx-get="/admin/integrations/sync/{job_id}"' in again.text


def test_sync_right_after_a_roster_import_keeps_the_parents_first_link(
    client: TestClient, database_url: str, clock: ManualClock
) -> None:
    """The issue's case: the roster import invites a new parent; 70 s later the director
    presses « Synchroniser les données ». The parent gets no second email, the summary says
    why, and the link in their first email still opens."""
    body = whole_roster(database_url)
    body["guardians"].append(
        {
            "id": "G-NOUVEAU",
            "first_name": "Marc",
            "last_name": "Gagnon",
            "email": "marc@example.net",
        }
    )
    body["children"].append(
        {
            **body["children"][0],
            "id": "C-NOUVEAU",
            "first_name": "Zoé",
            "last_name": "Gagnon",
            "guardian_ids": ["G-NOUVEAU"],
        }
    )
    imported = client.put("/api/v1/roster", headers=api_headers(), json=body)
    assert imported.status_code == 200 and imported.json()["invitations_sent"] == 1
    (first,) = [m for m in invitations(database_url) if m.to == "marc@example.net"]
    link = re.search(r"http://testserver/parent/activate/\S+", first.body)
    assert link is not None

    clock.advance(timedelta(seconds=70))
    as_admin(client)
    summary = run_sync(client)
    assert summary["recently_invited"] >= 1
    assert [m.to for m in invitations(database_url)].count("marc@example.net") == 1
    page = client.get("/admin/integrations").text
    assert "Invited less than 24 hours ago: not invited again" in page

    opened = client.get(link.group(0))
    assert opened.status_code == 200
    assert 'name="password_confirmation"' in opened.text  # the first link still works
