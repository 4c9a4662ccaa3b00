"""Retention and erasure (issue 14, points 5 and 7): `relais purge` and the background job
remove exactly what is past its period (the clock injected); a family that left is anonymized
after its period; an erased family leaves no name, email, photo or position anywhere in the
database, checked table by table."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col
from starlette.testclient import TestClient

from server import cli, scheduler
from server.core.clock import ManualClock
from server.core.models import (
    Child,
    Consent,
    DataExport,
    Guardian,
    OutboxMessage,
    Pickup,
    PickupEvent,
    RectificationRequest,
    TripPosition,
)
from server.privacy import policy
from server.privacy.retention import PurgeReport
from tests.helpers import T0, announce, api_headers, csrf, in_db, sign_in_as

PARENT = "parent@example.org"


def post(client: TestClient, path: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(path, data=data or {}, headers=csrf(client), follow_redirects=False)


def count(database_url: str, model: Any, *where: Any) -> int:
    async def run(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return in_db(database_url, run)


def retain(client: TestClient, services: Any, *, dry_run: bool = False) -> PurgeReport:
    """The background job's retention run, on the app's own loop (its clock injected)."""
    assert client.portal is not None
    return client.portal.call(lambda: scheduler.run_retention(services, dry_run=dry_run))


def finish(client: TestClient, pickup_id: int) -> None:
    for status in ("called", "ready", "departed"):
        answer = client.post(
            f"/api/v1/pickups/{pickup_id}/status", headers=api_headers(), json={"status": status}
        )
        assert answer.status_code == 200, answer.text


def age_pickups(database_url: str, days: int) -> None:
    """Move every pickup `days` days into the past (its day and its log lines)."""

    async def run(session: AsyncSession) -> None:
        for pickup in await session.scalars(select(Pickup)):
            pickup.day = pickup.day - timedelta(days=days)
            session.add(pickup)
        for line in await session.scalars(select(PickupEvent)):
            line.at = line.at - timedelta(days=days)
            session.add(line)

    in_db(database_url, run)


def test_purge_removes_exactly_what_is_past_its_period(
    client: TestClient, database_url: str, clock: ManualClock, app: Any
) -> None:
    old = announce(client, "C-LEA", "G-TREMBLAY")
    finish(client, old["id"])
    age_pickups(database_url, 366)  # a year and a day ago: past the default 365 days
    recent = announce(client, "C-NOAH", "G-TREMBLAY")
    finish(client, recent["id"])

    async def consents(session: AsyncSession) -> None:
        guardian = await session.scalar(
            select(col(Guardian.id)).where(col(Guardian.email) == PARENT)
        )
        assert guardian is not None
        for withdrawn in (T0 - timedelta(days=400), T0 - timedelta(days=10), None):
            session.add(
                Consent(
                    organization_id=1,
                    guardian_id=guardian,
                    purpose="location",
                    text_version="location-2026-12",
                    given_at=T0 - timedelta(days=500),
                    withdrawn_at=withdrawn,
                )
            )
        for sent in (T0 - timedelta(days=31), T0 - timedelta(days=29)):
            session.add(OutboxMessage(to="x@example.org", subject="s", body="b", created_at=sent))

    in_db(database_url, consents)
    lines_before = count(database_url, PickupEvent)
    services = app.state.services

    dry = retain(client, services, dry_run=True)
    assert dry.counts["pickups"] == 1
    assert dry.counts["release_log_lines"] == 4  # announced (or scheduled), called, ready, departed
    assert dry.counts["consents"] == 1
    assert dry.counts["outbox"] == 1
    assert count(database_url, Pickup) == 2  # a dry run changes nothing

    done = retain(client, services)
    assert done.counts == dry.counts
    assert {p for (p,) in in_db(database_url, lambda s: _rows(s, "SELECT id FROM pickup"))} == {
        recent["id"]
    }
    assert count(database_url, PickupEvent) == lines_before - 4
    assert count(database_url, Consent) == 2  # the recent withdrawal and the standing one
    assert count(database_url, OutboxMessage, col(OutboxMessage.to) == "x@example.org") == 1
    again = retain(client, services)
    assert again.counts["pickups"] == 0 and again.counts["consents"] == 0


async def _rows(session: AsyncSession, statement: str) -> list[Any]:
    return list((await session.execute(text(statement))).all())


def test_a_shorter_period_set_by_the_director_applies(
    client: TestClient, database_url: str, app: Any
) -> None:
    pickup = announce(client, "C-LEA", "G-TREMBLAY")
    finish(client, pickup["id"])
    age_pickups(database_url, 40)
    services = app.state.services
    assert retain(client, services).counts["pickups"] == 0
    admin = sign_in_as(client, database_url, "admin", "direction@example.org")
    periods = {k.column: "365" for k in policy.KINDS}
    fields = {"officer_name": "C", "officer_title": "D", "officer_email": "c@example.org"}
    assert (
        post(admin, "/admin/privacy", {**fields, **periods, "release_log_days": "30"}).status_code
        == 303
    )
    assert retain(client, services).counts["pickups"] == 1


def test_a_family_that_left_is_anonymized_after_its_period(
    client: TestClient, database_url: str, clock: ManualClock, app: Any
) -> None:
    async def leave(session: AsyncSession) -> None:  # what the roster does: inactive
        await session.execute(
            update(Child)
            .where(col(Child.external_id).in_(["C-LEA", "C-NOAH"]))
            .values(active=False)
        )

    in_db(database_url, leave)
    services = app.state.services
    first = retain(client, services)
    assert first.counts["departed_children"] == 0  # seen leaving now: the 90 days start
    clock.advance(timedelta(days=89))
    assert retain(client, services).counts["departed_adults"] == 0
    assert count(database_url, Guardian, col(Guardian.email) == PARENT) == 1
    clock.advance(timedelta(days=2))
    done = retain(client, services)
    # Julie Tremblay and Denise, the grandmother authorized to pick up (the demo's family).
    assert done.counts["departed_children"] == 2 and done.counts["departed_adults"] == 2
    assert count(database_url, Guardian, col(Guardian.email) == PARENT) == 0
    assert count(database_url, Child, col(Child.last_name) == "Tremblay") == 0


def test_relais_purge_prints_counts_and_a_dry_run_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
) -> None:
    async def ancient(session: AsyncSession) -> None:
        session.add(
            OutboxMessage(
                to="old@example.org",
                subject="s",
                body="b",
                created_at=datetime(2000, 1, 1, tzinfo=T0.tzinfo),
            )
        )

    in_db(database_url, ancient)
    monkeypatch.setenv("RELAIS_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAIS_VAR_DIR", str(tmp_path))
    assert cli.main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete or anonymize" in out and "  outbox: " in out
    assert count(database_url, OutboxMessage, col(OutboxMessage.to) == "old@example.org") == 1
    assert cli.main(["purge"]) == 0
    assert "deleted or anonymized" in capsys.readouterr().out
    assert count(database_url, OutboxMessage, col(OutboxMessage.to) == "old@example.org") == 0


# -- erasing a family now ---------------------------------------------------------------------


def every_value(database_url: str) -> dict[str, list[str]]:
    """Every text value of every table (the model's tables), by table."""

    async def run(session: AsyncSession) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for table in SQLModel.metadata.sorted_tables:
            rows = (await session.execute(table.select())).all()
            found[table.name] = [str(v) for row in rows for v in row if isinstance(v, str)]
        return found

    return in_db(database_url, run)


def test_an_erased_family_leaves_no_name_email_photo_or_position(
    client: TestClient, database_url: str, settings: Any
) -> None:
    parent = sign_in_as(client, database_url, "parent", PARENT)
    post(parent, "/parent/consent/location")
    post(
        parent,
        "/parent/people",
        {"first_name": "Mamie", "last_name": "Tremblay", "email": "mamie@example.org"},
    )
    lea = in_db(
        database_url,
        lambda s: s.scalar(select(col(Child.id)).where(col(Child.external_id) == "C-LEA")),
    )
    trip = post(
        parent,
        "/parent/trip/start",
        {"child_id": str(lea), "latitude": "46.81391", "longitude": "-71.20821"},
    )
    assert trip.status_code == 303 or trip.status_code == 200
    post(parent, "/parent/donnees/correction", {"target": "me:first_name", "value": "Zéphyrine"})
    post(parent, "/parent/donnees/export")
    pickup_id = int(in_db(database_url, lambda s: s.scalar(select(col(Pickup.id)))) or 0)
    photo = "A" * 22 + ".jpg"
    settings.photos_dir.mkdir(parents=True, exist_ok=True)
    (settings.photos_dir / photo).write_bytes(b"jpeg")

    async def leftovers(session: AsyncSession) -> None:
        await session.execute(
            update(Guardian).where(col(Guardian.email) == PARENT).values(photo=photo)
        )
        session.add(
            TripPosition(pickup_id=pickup_id, at=T0, latitude=46.90124, longitude=-71.20457)
        )

    in_db(database_url, leftovers)
    finish(client, pickup_id)  # departure forgets the trip; the row above stays, as a leftover
    in_db(database_url, leftovers)
    before = every_value(database_url)
    assert any("Tremblay" in v for v in before["pickup_event"])  # the release log names her

    admin = sign_in_as(client, database_url, "admin", "direction@example.org")
    guardian = in_db(
        database_url,
        lambda s: s.scalar(select(col(Guardian.id)).where(col(Guardian.email) == PARENT)),
    )
    page = admin.get(f"/admin/privacy/families/{guardian}?lang=en")
    for name in ("Julie Tremblay", "Léa Tremblay", "Noah Tremblay", "Mamie Tremblay"):
        assert name in page.text  # the confirmation names everyone it erases
    assert (
        post(admin, f"/admin/privacy/families/{guardian}/erase").status_code == 400
    )  # no box ticked
    assert (
        post(admin, f"/admin/privacy/families/{guardian}/erase", {"confirm": "erase"}).status_code
        == 303
    )

    marks = ("Tremblay", "Léa", "Noah", "Zéphyrine", PARENT, "mamie@example.org", photo)
    for table, values in every_value(database_url).items():
        for mark in marks:
            assert not any(mark in v for v in values), f"{mark!r} left in {table}"
    assert count(database_url, TripPosition) == 0
    assert not (settings.photos_dir / photo).exists()
    # The release log keeps its lines, anonymous.
    assert count(database_url, PickupEvent, col(PickupEvent.pickup_id) == pickup_id) >= 4
    assert count(database_url, Consent) == 0 and count(database_url, RectificationRequest) == 0
    assert count(database_url, DataExport) == 1
    log = admin.get("/admin/log?lang=en")
    assert log.status_code == 200 and "Tremblay" not in log.text
    assert admin.get(f"/admin/privacy/families/{guardian}").status_code == 404


def test_erasing_waits_for_a_pickup_under_way(client: TestClient, database_url: str) -> None:
    announce(client, "C-LEA", "G-TREMBLAY")
    admin = sign_in_as(client, database_url, "admin", "direction@example.org")
    guardian = in_db(
        database_url,
        lambda s: s.scalar(select(col(Guardian.id)).where(col(Guardian.email) == PARENT)),
    )
    refused = post(admin, f"/admin/privacy/families/{guardian}/erase?lang=en", {"confirm": "erase"})
    assert refused.status_code == 409 and "under way" in refused.text
    assert count(database_url, Guardian, col(Guardian.email) == PARENT) == 1
