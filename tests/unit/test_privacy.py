"""Privacy under Québec's Law 25 (issue 14): the notice reachable from every page a parent or
staff member signs in from, in both languages; consent to share a position asked once and
recorded; a family's export holds its data and nothing of another; the incident register
round-trips to CSV; rectification reaches the director."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server.accounts.guardians import create_invitation
from server.core.clock import ManualClock
from server.core.models import (
    Child,
    Consent,
    DataExport,
    Guardian,
    OutboxMessage,
    PrivacyIncident,
    RectificationRequest,
    TripPosition,
)
from server.privacy import incidents
from tests.helpers import T0, another_browser, csrf, in_db, sign_in_as

PARENT = "parent@example.org"
DIRECTOR = "direction@example.org"


def post(client: TestClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    return client.post(path, data=data or {}, headers=csrf(client), follow_redirects=False, **kw)


def count(database_url: str, model: Any, *where: Any) -> int:
    async def run(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return in_db(database_url, run)


def child_id(database_url: str, external_id: str) -> int:
    async def run(session: AsyncSession) -> int:
        found = await session.scalar(
            select(col(Child.id)).where(col(Child.external_id) == external_id)
        )
        assert found is not None
        return int(found)

    return in_db(database_url, run)


def guardian_id(database_url: str, email: str) -> int:
    async def run(session: AsyncSession) -> int:
        found = await session.scalar(select(col(Guardian.id)).where(col(Guardian.email) == email))
        assert found is not None
        return int(found)

    return in_db(database_url, run)


def notice_link(html: str) -> str:
    found = re.search(r'<p class="privacy-link"><a href="([^"]+)"', html)
    assert found, "the page links to the privacy notice"
    return found.group(1)


# -- 1. the notice ---------------------------------------------------------------------------------


def activation_path(database_url: str) -> str:
    async def run(session: AsyncSession) -> str:
        guardian = await session.scalar(
            select(Guardian).where(col(Guardian.email) == "parent0002@example.org")
        )
        assert guardian is not None
        email = await create_invitation(session, guardian, base_url="http://testserver", now=T0)
        found = re.search(r"http://testserver(/parent/activate/\S+)", email.body)
        assert found
        return found.group(1)

    return in_db(database_url, run)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_notice_is_linked_from_every_page_a_person_signs_in_from(
    client: TestClient, database_url: str, lang: str
) -> None:
    expected = "/confidentialite" if lang == "fr" else "/privacy"
    pages = ["/login", "/parent/login", "/portal/login", "/parent/forgot"]
    pages.append(activation_path(database_url))
    for path in pages:
        answer = client.get(f"{path}?lang={lang}")
        assert answer.status_code == 200, path
        assert notice_link(answer.text) == expected, path
    parent = sign_in_as(another_browser(client), database_url, "parent", PARENT)
    for path in ("/parent", "/parent/donnees"):
        answer = parent.get(f"{path}?lang={lang}")
        assert notice_link(answer.text) == expected, path


def test_the_notice_says_what_why_how_long_who_rights_and_whom_to_contact(
    client: TestClient, database_url: str
) -> None:
    admin = sign_in_as(client, database_url, "admin", DIRECTOR)
    saved = post(
        admin,
        "/admin/privacy",
        {
            "officer_name": "Chantal Lévesque",
            "officer_title": "Directrice",
            "officer_email": "vie.privee@example.org",
            "release_log_days": "400",
            "consents_days": "365",
            "exports_days": "365",
            "messages_days": "30",
            "sessions_days": "0",
            "departed_days": "90",
            "requests_days": "365",
        },
    )
    assert saved.status_code == 303
    visitor = another_browser(client)
    french = visitor.get("/confidentialite")
    assert french.status_code == 200
    assert '<html lang="fr-CA">' in french.text
    for words in (
        "Chantal Lévesque",
        "vie.privee@example.org",
        "Ce qui est recueilli",
        "400 jours",
        "Qui y a accès",
        "Vos droits",
        "Commission d’accès à l’information",
    ):
        assert words in french.text, words
    english = visitor.get("/privacy")
    assert '<html lang="en">' in english.text
    for words in ("What is collected", "400 days", "Who sees it", "Your rights", "Chantal"):
        assert words in english.text, words
    assert 'href="/privacy"' in french.text and 'href="/confidentialite"' in english.text


def test_the_person_in_charge_needs_a_name_a_title_and_an_email(
    client: TestClient, database_url: str
) -> None:
    admin = sign_in_as(client, database_url, "admin", DIRECTOR)
    refused = post(admin, "/admin/privacy?lang=en", {"officer_name": "X", "officer_email": "x"})
    assert refused.status_code == 400
    assert "Name the person in charge" in refused.text
    too_short = {
        "officer_name": "Chantal",
        "officer_title": "Directrice",
        "officer_email": "c@example.org",
        "release_log_days": "3",
    }
    refused = post(admin, "/admin/privacy?lang=en", too_short)
    assert refused.status_code == 400
    assert "a number of days from 30 to 3650" in refused.text
    assert 'value="Chantal"' in refused.text  # what was typed is kept


# -- 2. location only by consent -------------------------------------------------------------------


def test_consent_is_asked_once_recorded_and_withdrawn(
    client: TestClient, database_url: str
) -> None:
    parent = sign_in_as(client, database_url, "parent", PARENT)
    lea = child_id(database_url, "C-LEA")
    page = parent.get("/parent?lang=en")
    assert 'data-consented="no"' in page.text  # the most private setting by default
    start = {"child_id": str(lea), "latitude": "46.90", "longitude": "-71.2082"}
    refused = post(parent, "/parent/trip/start?lang=en", start)
    assert refused.status_code == 403
    assert "Agree to share your position first" in refused.text
    assert count(database_url, TripPosition) == 0

    assert post(parent, "/parent/consent/location").status_code == 204
    assert post(parent, "/parent/consent/location").status_code == 204  # again: one record
    assert count(database_url, Consent) == 1

    async def recorded(session: AsyncSession) -> Consent:
        found: Consent | None = await session.scalar(select(Consent))
        assert found is not None
        return found

    consent = in_db(database_url, recorded)
    assert consent.text_version == "location-2026-12"
    assert consent.given_at == T0 and consent.withdrawn_at is None
    assert 'data-consented="yes"' in parent.get("/parent").text
    assert post(parent, "/parent/trip/start", start).status_code == 200
    assert count(database_url, TripPosition) == 1

    withdrawn = post(parent, "/parent/consent/location/withdraw")
    assert withdrawn.status_code == 303
    assert count(database_url, TripPosition) == 0  # the trip's positions go with it
    assert in_db(database_url, recorded).withdrawn_at == T0
    late = post(parent, "/parent/trip/position", {"latitude": "46.85", "longitude": "-71.2"})
    assert late.status_code == 403
    assert count(database_url, TripPosition) == 0
    page = parent.get("/parent/donnees?lang=en")
    assert "You have not agreed to share your position" in page.text


def test_a_silent_phones_positions_are_erased_after_the_trips_limit(
    client: TestClient, database_url: str, clock: ManualClock, app: Any
) -> None:
    from server import scheduler

    parent = sign_in_as(client, database_url, "parent", PARENT)
    post(parent, "/parent/consent/location")
    start = {"child_id": str(child_id(database_url, "C-LEA")), "latitude": "46.90"}
    assert post(parent, "/parent/trip/start", {**start, "longitude": "-71.2082"}).status_code == 200
    services = app.state.services
    clock.advance(timedelta(minutes=59))
    assert client.portal is not None
    client.portal.call(scheduler.run_due_work, services)
    assert count(database_url, TripPosition) == 1  # within the hour: kept
    clock.advance(timedelta(minutes=2))  # the phone said nothing more
    assert client.portal is not None
    client.portal.call(scheduler.run_due_work, services)
    assert count(database_url, TripPosition) == 0


# -- 3. access and portability ---------------------------------------------------------------------


def zip_of(answer: Any) -> zipfile.ZipFile:
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    return zipfile.ZipFile(io.BytesIO(answer.content))


def everything(archive: zipfile.ZipFile) -> str:
    return "\n".join(
        archive.read(n).decode()
        for n in archive.namelist()
        if n.endswith((".json", ".csv", ".txt"))
    )


def test_a_parent_downloads_their_familys_data_and_nothing_of_another(
    client: TestClient, database_url: str
) -> None:
    parent = sign_in_as(client, database_url, "parent", PARENT)
    post(
        parent,
        "/parent/announce",
        {"child_id": str(child_id(database_url, "C-LEA")), "in_minutes": "20"},
    )
    archive = zip_of(post(parent, "/parent/donnees/export"))
    names = set(archive.namelist())
    for section in (
        "profile",
        "children",
        "authorized_adults",
        "consents",
        "pickups",
        "release_log",
    ):
        assert f"{section}.csv" in names
    data = json.loads(archive.read("data.json"))
    assert data["profile"][0]["email"] == PARENT
    assert {c["first_name"] for c in data["children"]} == {"Léa", "Noah"}
    assert len(data["pickups"]) == 1 and data["pickups"][0]["announced_by"] == "Julie Tremblay"
    assert data["release_log"][0]["to_status"] in {"scheduled", "announced"}
    rows = list(csv.DictReader(io.StringIO(archive.read("children.csv").decode())))
    assert {r["last_name"] for r in rows} == {"Tremblay"}
    text = everything(archive)
    # Nothing of another family: no other parent's address, no other child.
    assert "parent0001@example.org" not in text and "Émile" not in text
    assert count(database_url, DataExport) == 1
    assert (
        "Format" in archive.read("README.txt").decode()
        or "format" in archive.read("README.txt").decode()
    )


def test_a_director_exports_a_family_and_every_export_is_recorded(
    client: TestClient, database_url: str
) -> None:
    admin = sign_in_as(client, database_url, "admin", DIRECTOR)
    tremblay = guardian_id(database_url, PARENT)
    archive = zip_of(post(admin, f"/admin/privacy/families/{tremblay}/export"))
    assert json.loads(archive.read("data.json"))["profile"][0]["last_name"] == "Tremblay"
    page = admin.get("/admin/privacy?lang=en")
    exports = page.text.split('id="exports"', 1)[1]
    assert "Julie Tremblay" in exports and "Direction" in exports and "(staff)" in exports


# -- 4. rectification ------------------------------------------------------------------------------


def test_a_correction_request_reaches_the_director(client: TestClient, database_url: str) -> None:
    parent = sign_in_as(client, database_url, "parent", PARENT)
    noah = child_id(database_url, "C-NOAH")
    refused = post(
        parent,
        "/parent/donnees/correction?lang=en",
        {"target": f"child-{noah}:email", "value": "x"},
    )
    assert refused.status_code == 400  # a child has no email to correct
    other = child_id(database_url, "C0001")
    refused = post(
        parent, "/parent/donnees/correction", {"target": f"child-{other}:first_name", "value": "X"}
    )
    assert refused.status_code == 400  # not their child
    asked = post(
        parent, "/parent/donnees/correction", {"target": f"child-{noah}:first_name", "value": "Noé"}
    )
    assert asked.status_code == 303
    assert count(database_url, RectificationRequest) == 1
    assert count(database_url, OutboxMessage, col(OutboxMessage.to) == DIRECTOR) == 1
    assert "Noé" in parent.get("/parent/donnees").text

    admin = sign_in_as(another_browser(client), database_url, "admin", DIRECTOR)
    listed = admin.get("/admin/privacy").text.split('id="requests"', 1)[1]
    assert "Noah Tremblay" in listed and "Noé" in listed
    request_id = re.search(r'id="request-(\d+)"', listed)
    assert request_id
    assert post(admin, f"/admin/privacy/requests/{request_id.group(1)}/resolve").status_code == 303
    assert (
        count(
            database_url, RectificationRequest, col(RectificationRequest.resolved_at).is_not(None)
        )
        == 1
    )
    assert "Noé" not in admin.get("/admin/privacy").text.split('id="requests"', 1)[1]


# -- 6. the incident register ----------------------------------------------------------------------


def test_the_incident_register_round_trips_to_csv(client: TestClient, database_url: str) -> None:
    admin = sign_in_as(client, database_url, "admin", DIRECTOR)
    incident = {
        "occurred_on": "2026-11-20",
        "discovered_on": "2026-11-21",
        "description": 'A tablet was lost, "unlocked"; found the next day',
        "people_concerned": "Les Lutins: 12 children, their parents' names",
        "serious_risk": "1",
        "risk_assessment": "Names and photos only; found within 24 h",
        "notified": "Parents of Les Lutins; Commission d’accès à l’information",
        "notified_on": "2026-11-22",
    }
    assert post(admin, "/admin/incidents", incident).status_code == 303
    second = {
        **incident,
        "serious_risk": "",
        "notified": "",
        "notified_on": "",
        "description": "Email sent to the wrong parent",
    }
    assert post(admin, "/admin/incidents", second).status_code == 303
    refused = post(admin, "/admin/incidents?lang=en", {**incident, "discovered_on": "2026-11-19"})
    assert refused.status_code == 400 and "on or after the incident" in refused.text
    assert count(database_url, PrivacyIncident) == 2

    exported = admin.get("/admin/incidents.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    back = incidents.from_csv(exported.text, date(2026, 11, 24))
    assert len(back) == 2
    forms = {form.description: (form, by) for form, by in back}
    lost, by = forms[incident["description"]]
    assert by == "Direction"
    assert lost.serious_risk is True and lost.notified_on == date(2026, 11, 22)
    assert lost.people_concerned == incident["people_concerned"]
    assert forms["Email sent to the wrong parent"][0].serious_risk is False
    page = admin.get("/admin/incidents")
    assert "A tablet was lost" in page.text


# -- the routes are the director's only ------------------------------------------------------------


def test_privacy_pages_are_the_directors_and_the_parents_only(
    client: TestClient, database_url: str
) -> None:
    reception = sign_in_as(client, database_url, "reception", "accueil@example.org")
    for path in ("/admin/privacy", "/admin/incidents", "/admin/incidents.csv"):
        assert reception.get(path, follow_redirects=False).status_code == 403, path
    anonymous = another_browser(client)
    assert anonymous.get("/parent/donnees", follow_redirects=False).status_code == 303
