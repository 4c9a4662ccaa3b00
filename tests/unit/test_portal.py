"""The centre portal: its own sign-in, the profile (preparation time, call window) that the
next alerts use, and the student list with the families' activation state."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server.core.models import Guardian, Installation, OutboxMessage
from tests.helpers import (
    PASSWORD,
    another_browser,
    api_headers,
    in_db,
    login,
    page_text,
    portal_login,
    sign_in_form,
    submit,
)


def era(database_url: str) -> Installation:
    async def load(session: AsyncSession) -> Installation:
        return (
            await session.execute(
                select(Installation).where(col(Installation.external_id) == "ERA")
            )
        ).scalar_one()

    return in_db(database_url, load)


def save_profile(client: TestClient, **values: str) -> object:
    return submit(client, "/portal/profile", values)


def test_sign_in_with_the_centre_account_only(client: TestClient) -> None:
    assert client.get("/portal/profile", follow_redirects=False).status_code == 303
    assert portal_login(client, password="wrong-password") == 400
    # A staff session is not a centre account: the educator cannot reach the settings.
    login(client, "educatrice@example.org")
    assert client.get("/portal/profile", follow_redirects=False).headers["location"] == (
        "/portal/login"
    )
    assert portal_login(client) == 303
    assert "Pavillon des Érables" in page_text(client, "/portal/profile")


def test_invalid_profile_values_are_refused_next_to_the_field_and_change_nothing(
    client: TestClient, database_url: str
) -> None:
    portal_login(client)
    for values, field_error in (
        ({"preparation_minutes": "0", "window_start": "15:00", "window_end": "18:00"}, "60"),
        ({"preparation_minutes": "abc", "window_start": "15:00", "window_end": "18:00"}, "60"),
        ({"preparation_minutes": "5", "window_start": "25:00", "window_end": "18:00"}, "15:30"),
        (
            {"preparation_minutes": "5", "window_start": "18:00", "window_end": "15:00"},
            "form-error",
        ),
    ):
        answer = save_profile(client, **values)
        assert answer.status_code == 400  # type: ignore[attr-defined]
        assert field_error in answer.text  # type: ignore[attr-defined]
        assert 'aria-invalid="true"' in answer.text  # type: ignore[attr-defined]
    unchanged = era(database_url)
    assert unchanged.preparation_minutes == 5
    assert unchanged.call_window_end.isoformat() == "23:59:00"


def test_the_next_gps_alert_uses_the_new_preparation_time(
    client: TestClient, database_url: str
) -> None:
    # About 3 km north of the daycare: ~8 minutes at town speed.
    three_km_north = {"latitude": 46.8139 + 3 / 111.2, "longitude": -71.2082}
    first = client.post(
        "/api/v1/pickups",
        headers=api_headers(),
        json={"child_id": "C0001", "guardian_id": "G0001", "mode": "gps", **three_km_north},
    )
    assert first.json()["status"] == "tracking"  # 5 minutes: not yet

    portal_login(client)
    saved = save_profile(client, preparation_minutes="10", window_start="06:30", window_end="18:30")
    assert saved.status_code == 200  # type: ignore[attr-defined]
    second = client.post(
        "/api/v1/pickups",
        headers=api_headers(),
        json={"child_id": "C0002", "guardian_id": "G0002", "mode": "gps", **three_km_north},
    )
    assert second.json()["status"] == "announced"  # within the new 10 minutes
    late = client.post(
        "/api/v1/pickups",
        headers=api_headers(),
        json={"child_id": "C0003", "guardian_id": "G0003", "mode": "eta", "eta": "19:00"},
    )
    assert late.status_code == 422 and "18:30" in late.json()["detail"]


def test_student_list_white_when_every_parent_activated_orange_otherwise(
    client: TestClient, database_url: str
) -> None:
    portal_login(client)
    page = client.get("/portal/students").text
    lea = page[page.index("Léa Tremblay") - 200 : page.index("Léa Tremblay")]
    assert "student--active" in lea  # her only guardian activated
    assert "student--pending" in page  # the demo's other families are only invited
    assert "Les Castors" not in page  # another installation's children are not listed

    async def invited(session: AsyncSession) -> Guardian:
        return (
            await session.execute(select(Guardian).where(col(Guardian.external_id) == "G0001"))
        ).scalar_one()

    guardian = in_db(database_url, invited)
    sent = submit(client, f"/portal/guardians/{guardian.id}/activation", follow_redirects=False)
    assert sent.status_code == 303

    async def outbox(session: AsyncSession) -> int:
        count = await session.execute(
            select(func.count()).where(col(OutboxMessage.to) == guardian.email)
        )
        return int(count.scalar_one())

    assert in_db(database_url, outbox) == 1


def test_a_guardian_of_another_installation_is_not_reachable(
    client: TestClient, database_url: str
) -> None:
    async def other(session: AsyncSession) -> int:
        bou = (
            await session.execute(
                select(Installation).where(col(Installation.external_id) == "BOU")
            )
        ).scalar_one()
        from server.core.models import Child, ChildGuardian

        guardian_id = (
            await session.execute(
                select(col(ChildGuardian.guardian_id))
                .join(Child, col(Child.id) == col(ChildGuardian.child_id))
                .where(col(Child.installation_id) == bou.id)
                .limit(1)
            )
        ).scalar_one()
        return int(guardian_id)

    portal_login(client)
    refused = submit(client, f"/portal/guardians/{in_db(database_url, other)}/activation")
    assert refused.status_code == 404


def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 90)).save(out, "JPEG")
    return out.getvalue()


def test_the_centre_approves_photos_of_its_installation_only(
    client: TestClient, database_url: str
) -> None:
    from server.core.models import Child

    async def ids(session: AsyncSession) -> tuple[int, int]:
        lea = (
            await session.execute(select(Child).where(col(Child.external_id) == "C-LEA"))
        ).scalar_one()
        bou = (
            await session.execute(
                select(Child)
                .join(Installation, col(Installation.id) == col(Child.installation_id))
                .where(col(Installation.external_id) == "BOU")
                .limit(1)
            )
        ).scalar_one()
        bou.pending_photo = "not-a-real-file.jpg"  # another installation's pending change
        session.add(bou)
        assert lea.id is not None and bou.id is not None
        return lea.id, bou.id

    lea_id, bou_id = in_db(database_url, ids)
    # The parent sends a new photo of Léa.
    sign_in_form(client, "/parent/login", "parent@example.org")
    photo = {"photo": ("lea.jpg", _jpeg(), "image/jpeg")}
    sent = submit(client, f"/parent/photos/child/{lea_id}", files=photo, follow_redirects=False)
    assert sent.status_code == 303

    portal_login(client)
    page = client.get("/portal/approvals").text
    assert "Léa Tremblay" in page
    assert f"/portal/photos/child/{bou_id}/" not in page  # not this centre's family
    # The centre can see the photos it decides on.
    assert client.get(f"/photos/child/{lea_id}?pending=1").status_code == 200
    assert client.get(f"/photos/child/{bou_id}?pending=1").status_code == 404

    refused = submit(client, f"/portal/photos/child/{bou_id}/approve")
    assert refused.status_code == 404
    approved = submit(client, f"/portal/photos/child/{lea_id}/approve", follow_redirects=False)
    assert approved.status_code == 303
    assert approved.headers["location"] == "/portal/approvals"

    async def pending(session: AsyncSession) -> tuple[bool, bool]:
        lea = await session.get(Child, lea_id)
        bou = await session.get(Child, bou_id)
        assert lea is not None and bou is not None
        return lea.photo_pending, bou.photo_pending

    assert in_db(database_url, pending) == (False, True)


def test_changing_the_centre_password_keeps_the_link(client: TestClient) -> None:
    portal_login(client)
    new = dict.fromkeys(("new_password", "new_password_again"), "un-nouveau-mot-de-passe")
    wrong = submit(client, "/portal/password", {"current_password": "not-it", **new})
    assert wrong.status_code == 400
    changed = submit(client, "/portal/password", {"current_password": PASSWORD, **new})
    assert changed.status_code == 200
    # Still the same installation's portal, and the new password signs in elsewhere.
    assert "Pavillon des Érables" in client.get("/portal/students").text
    other = another_browser(client)
    assert portal_login(other, password=PASSWORD) == 400
    assert portal_login(other, password="un-nouveau-mot-de-passe") == 303


def test_the_overdue_threshold_is_set_per_installation_and_reaches_open_boards(
    client: TestClient, database_url: str
) -> None:
    from tests.helpers import ORIGIN, receive

    staff = another_browser(client)
    login(staff, "accueil@example.org")
    portal_login(client)
    refused = save_profile(
        client,
        preparation_minutes="5",
        overdue_minutes="0",
        window_start="00:00",
        window_end="23:59",
    )
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert era(database_url).overdue_minutes == 3
    with staff.websocket_connect("/board/ws", headers=ORIGIN) as ws:
        assert 'data-overdue-minutes="3"' in receive(ws)["content"]
        saved = save_profile(
            client,
            preparation_minutes="5",
            overdue_minutes="7",
            window_start="00:00",
            window_end="23:59",
        )
        assert saved.status_code == 200  # type: ignore[attr-defined]
        assert era(database_url).overdue_minutes == 7
        assert 'data-overdue-minutes="7"' in receive(ws)["content"]
    assert 'data-overdue-minutes="7"' in staff.get("/board").text
