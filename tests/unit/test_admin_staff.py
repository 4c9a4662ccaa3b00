"""/admin/staff: inviting, the invitation link, role and place changes, disabling."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from server import demo
from server.core.clock import ManualClock
from server.core.models import (
    OneTimeLink,
    OutboxMessage,
    Role,
    SignInSession,
    StaffUser,
)
from server.core.security import hash_password
from server.realtime.hub import CLOSE_SESSION_ENDED
from tests.helpers import (
    ORIGIN,
    T0,
    another_browser,
    demo_ids,
    in_db,
    login,
    other_organization,
    receive,
)

NEW_PASSWORD = "a-long-enough-password"


def form(client: TestClient, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": client.cookies.get("relais_csrf"), **fields}


def user_by_email(database_url: str, email: str) -> StaffUser | None:
    async def work(session: AsyncSession) -> StaffUser | None:
        return (
            await session.execute(select(StaffUser).where(col(StaffUser.email) == email))
        ).scalar_one_or_none()

    return in_db(database_url, work)


def change(
    admin: TestClient, database_url: str, email: str, role: str, *place: str
) -> tuple[StaffUser, Any]:
    """The administrator's form on `email`'s row sent with `role` and `place` (external ids:
    the installation, then the home group): (the member before it, the answer)."""
    member = user_by_email(database_url, email)
    assert member is not None
    known = demo_ids(database_url)
    fields = dict(
        zip(
            ("installation_id", "home_group_id")[: len(place)],
            [known[p] for p in place],
            strict=True,
        )
    )
    response = admin.post(
        f"/admin/staff/{member.id}",
        data=form(admin, role=role, **fields),
        follow_redirects=False,
    )
    return member, response


def role_and_place(database_url: str, email: str) -> tuple[str, int | None, int | None]:
    member = user_by_email(database_url, email)
    assert member is not None
    return member.role, member.installation_id, member.home_group_id


@contextmanager
def on_the_board(
    admin: TestClient, database_url: str, email: str
) -> Iterator[tuple[TestClient, StaffUser, WebSocketTestSession]]:
    """`email` signed in on a browser of their own with the board open (its snapshot
    received): (that browser, the member, the board's socket)."""
    browser = another_browser(admin)
    login(browser, email)
    member = user_by_email(database_url, email)
    assert member is not None
    with browser.websocket_connect("/board/ws", headers=ORIGIN) as ws:
        assert receive(ws)["snapshot"] is True
        yield browser, member, ws


def outbox_to(database_url: str, email: str) -> list[OutboxMessage]:
    async def work(session: AsyncSession) -> list[OutboxMessage]:
        rows = await session.execute(
            select(OutboxMessage)
            .where(col(OutboxMessage.to) == email)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.scalars())

    return in_db(database_url, work)


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    login(client, "direction@example.org")
    return client


def invite(client: TestClient, **fields: Any) -> Any:
    return client.post("/admin/staff", data=form(client, **fields), follow_redirects=False)


def link_from(body: str) -> str:
    match = re.search(r"http://testserver(/staff/set-password/[\w-]+)", body)
    assert match, body
    return match.group(1)


# -- the page and who may see it --------------------------------------------------------


def test_the_page_lists_the_staff(admin: TestClient) -> None:
    page = admin.get("/admin/staff")
    assert page.status_code == 200
    for text in ("Direction", "accueil@example.org", "Éducatrice des Lutins", "Les Lutins"):
        assert text in page.text
    # The director's own row has no "disable" button.
    assert 'id="staff-' in page.text
    assert page.text.count('value="disable"') == 2


@pytest.mark.parametrize("email", ["accueil@example.org", "educatrice@example.org"])
def test_reception_and_educators_are_refused(client: TestClient, email: str) -> None:
    login(client, email)
    assert client.get("/admin/staff").status_code == 403
    response = client.post(
        "/admin/staff",
        data=form(client, email="x@example.org", name="X", role="admin"),
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_signed_out_goes_to_login(client: TestClient) -> None:
    response = client.get("/admin/staff", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


# -- inviting -------------------------------------------------------------------------------


def test_invitation_email_link_sets_the_password_and_signs_in(
    admin: TestClient, database_url: str
) -> None:
    known = demo_ids(database_url)
    response = invite(
        admin,
        email="  Nouvelle@Example.org ",
        name="Nadia Nouvelle",
        role="educator",
        installation_id=known["ERA"],
        home_group_id=known["ERA-HIB"],
    )
    assert response.status_code == 303, response.text
    page = admin.get(response.headers["location"])
    assert "nouvelle@example.org" in page.text and 'id="staff-notice"' in page.text

    user = user_by_email(database_url, "nouvelle@example.org")
    assert user is not None
    assert (user.role, user.installation_id, user.home_group_id, user.active) == (
        "educator",
        known["ERA"],
        known["ERA-HIB"],
        True,
    )
    (message,) = outbox_to(database_url, "nouvelle@example.org")
    assert "Nadia Nouvelle" in message.body
    assert "7" in message.body
    path = link_from(message.body)

    # Not yet: the account has no usable password.
    fresh = another_browser(admin)
    fresh.get("/login")
    refused = fresh.post(
        "/login",
        data=form(fresh, email="nouvelle@example.org", password="", next="/board"),
        follow_redirects=False,
    )
    assert refused.status_code == 400

    opened = fresh.get(path)
    assert opened.status_code == 200
    assert "nouvelle@example.org" in opened.text
    set_password = fresh.post(
        path,
        data=form(fresh, password=NEW_PASSWORD, password_confirmation=NEW_PASSWORD),
        follow_redirects=False,
    )
    assert set_password.status_code == 303
    assert set_password.headers["location"] == "/board"
    board = fresh.get("/board")
    assert board.status_code == 200 and "Les Hiboux" in board.text

    # The link works once.
    assert fresh.get(path).status_code == 410
    # The password signs in at /login.
    other = another_browser(admin)
    login(other, "nouvelle@example.org", NEW_PASSWORD)
    assert other.get("/board").status_code == 200


def test_password_rules_on_the_link_page(admin: TestClient, database_url: str) -> None:
    admin.get("/login?lang=en")  # the messages checked below, in English
    invite(admin, email="x@example.org", name="X", role="admin")
    path = link_from(outbox_to(database_url, "x@example.org")[0].body)
    for password, confirmation, words in (
        ("short", "short", "12"),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "same"),
        ("x@example.org", "x@example.org", "email"),
    ):
        response = admin.post(
            path,
            data=form(admin, password=password, password_confirmation=confirmation),
            follow_redirects=False,
        )
        assert response.status_code == 400
        assert 'id="password-error"' in response.text
        assert words in response.text, words
    assert admin.get(path).status_code == 200  # still usable
    assert admin.get("/staff/set-password/not-a-real-token").status_code == 404


def test_invitation_link_expires_after_seven_days(
    admin: TestClient, database_url: str, clock: ManualClock
) -> None:
    from datetime import timedelta

    invite(admin, email="late@example.org", name="Late", role="admin")
    path = link_from(outbox_to(database_url, "late@example.org")[0].body)
    clock.advance(timedelta(days=7, minutes=1))
    assert admin.get(path).status_code == 410


def test_sending_again_replaces_the_link(admin: TestClient, database_url: str) -> None:
    invite(admin, email="again@example.org", name="Again", role="admin")
    user = user_by_email(database_url, "again@example.org")
    assert user is not None
    first = link_from(outbox_to(database_url, "again@example.org")[0].body)
    response = admin.post(
        f"/admin/staff/{user.id}/invite", data=form(admin), follow_redirects=False
    )
    assert response.status_code == 303
    second = link_from(outbox_to(database_url, "again@example.org")[1].body)
    assert admin.get(first).status_code == 410
    assert admin.get(second).status_code == 200


def test_invitation_needs_valid_fields_and_keeps_what_was_typed(
    admin: TestClient, database_url: str
) -> None:
    known = demo_ids(database_url)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"email": "accueil@example.org", "name": "Dup", "role": "admin"}, "email"),
        ({"email": "ACCUEIL@example.org", "name": "Dup", "role": "admin"}, "email"),
        ({"email": "not-an-email", "name": "Bad", "role": "admin"}, "email"),
        ({"email": "noname@example.org", "name": "  ", "role": "admin"}, "name"),
        ({"email": "role@example.org", "name": "Role", "role": "janitor"}, "role"),
        ({"email": "r@example.org", "name": "R", "role": "reception"}, "installation_id"),
        (
            {"email": "r@example.org", "name": "R", "role": "reception", "installation_id": "x"},
            "installation_id",
        ),
        (
            {
                "email": "e@example.org",
                "name": "E",
                "role": "educator",
                "installation_id": known["ERA"],
            },
            "home_group_id",
        ),
        (
            {
                "email": "e@example.org",
                "name": "E",
                "role": "educator",
                "installation_id": known["ERA"],
                "home_group_id": known["BOU-CAS"],  # another installation's group
            },
            "home_group_id",
        ),
    ]
    for fields, bad in cases:
        response = invite(admin, **fields)
        assert response.status_code == 400, fields
        assert f'id="invite-{bad}-error"' in response.text, (fields, response.text)
        assert f'value="{fields["email"]}"' in response.text  # kept
    assert user_by_email(database_url, "e@example.org") is None
    assert user_by_email(database_url, "noname@example.org") is None
    assert outbox_to(database_url, "e@example.org") == []


def other_daycare(database_url: str) -> dict[str, int]:
    """A second daycare organization, with an installation, a group and a staff member."""

    async def work(session: AsyncSession) -> dict[str, int]:
        org_id, inst, (group,) = await other_organization(session, groups=(("OTH-G", "Autres"),))
        password = hash_password("whatever-password")
        user = await demo.staff(
            session, org_id, "autre@example.org", "Autre", Role.ADMIN, password, T0
        )
        return {
            "installation": demo.id_of(inst),
            "group": demo.id_of(group),
            "user": demo.id_of(user),
        }

    return in_db(database_url, work)


def test_another_organizations_ids_are_refused(admin: TestClient, database_url: str) -> None:
    other = other_daycare(database_url)
    known = demo_ids(database_url)
    era = known["ERA"]
    for bad, place in (
        ("installation_id", {"role": "reception", "installation_id": other["installation"]}),
        (
            "home_group_id",
            {"role": "educator", "installation_id": era, "home_group_id": other["group"]},
        ),
    ):
        response = invite(admin, email="f@example.org", name="F", **place)
        assert response.status_code == 400 and f'id="invite-{bad}-error"' in response.text
    for suffix in ("", "/disable", "/enable", "/invite"):
        response = admin.post(
            f"/admin/staff/{other['user']}{suffix}",
            data=form(admin, role="admin"),
            follow_redirects=False,
        )
        assert response.status_code == 404, suffix
    assert admin.post("/admin/staff/nope/disable", data=form(admin)).status_code == 404
    assert "autre@example.org" not in admin.get("/admin/staff").text


# -- changing -------------------------------------------------------------------------------


def test_change_role_installation_and_group(admin: TestClient, database_url: str) -> None:
    reception, response = change(
        admin, database_url, "accueil@example.org", "educator", "BOU", "BOU-ETO"
    )
    assert response.status_code == 303
    known = demo_ids(database_url)
    assert role_and_place(database_url, "accueil@example.org") == (
        "educator",
        known["BOU"],
        known["BOU-ETO"],
    )
    # Made an admin: no installation, no group.
    admin.post(f"/admin/staff/{reception.id}", data=form(admin, role="admin"))
    assert role_and_place(database_url, "accueil@example.org") == ("admin", None, None)


def test_a_bad_change_is_explained_on_its_row(admin: TestClient, database_url: str) -> None:
    # Les Renards: a group of another installation.
    educator, response = change(
        admin, database_url, "educatrice@example.org", "educator", "ERA", "BOU-REN"
    )
    assert response.status_code == 400
    assert f'id="staff-{educator.id}-home_group_id-error"' in response.text
    unchanged = user_by_email(database_url, "educatrice@example.org")
    assert unchanged is not None and unchanged.home_group_id == educator.home_group_id


def test_the_last_active_admin_cannot_be_demoted_or_disabled(
    admin: TestClient, database_url: str
) -> None:
    director = user_by_email(database_url, "direction@example.org")
    assert director is not None
    known = demo_ids(database_url)
    response = admin.post(
        f"/admin/staff/{director.id}",
        data=form(admin, role="reception", installation_id=known["ERA"]),
    )
    assert response.status_code == 400
    assert f'id="staff-{director.id}-role-error"' in response.text
    response = admin.post(f"/admin/staff/{director.id}/disable", data=form(admin))
    assert response.status_code == 400
    assert f'id="staff-{director.id}-active-error"' in response.text
    still = user_by_email(database_url, "direction@example.org")
    assert still is not None and still.role == "admin" and still.active

    # With a second admin, the director may step down.
    accueil = user_by_email(database_url, "accueil@example.org")
    assert accueil is not None
    admin.post(f"/admin/staff/{accueil.id}", data=form(admin, role="admin"))
    response = admin.post(
        f"/admin/staff/{director.id}",
        data=form(admin, role="reception", installation_id=known["ERA"]),
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert admin.get("/admin/staff").status_code == 403  # no longer an admin


# -- disabling ------------------------------------------------------------------------------


def sessions_of(database_url: str, user_id: int) -> int:
    async def work(session: AsyncSession) -> int:
        rows = await session.execute(
            select(SignInSession).where(
                col(SignInSession.kind) == "staff", col(SignInSession.account_id) == user_id
            )
        )
        return len(list(rows.scalars()))

    return in_db(database_url, work)


def test_disabling_ends_the_sessions_and_re_enabling_allows_sign_in(
    admin: TestClient, database_url: str
) -> None:
    educator_client = another_browser(admin)
    login(educator_client, "educatrice@example.org")
    assert educator_client.get("/board").status_code == 200
    educator = user_by_email(database_url, "educatrice@example.org")
    assert educator is not None and educator.id is not None
    assert sessions_of(database_url, educator.id) == 1

    response = admin.post(
        f"/admin/staff/{educator.id}/disable", data=form(admin), follow_redirects=False
    )
    assert response.status_code == 303
    assert sessions_of(database_url, educator.id) == 0
    old_cookie = educator_client.get("/board", follow_redirects=False)
    assert old_cookie.status_code == 303 and old_cookie.headers["location"].startswith("/login")
    page = admin.get("/admin/staff")
    assert 'value="enable"' in page.text

    # A disabled account cannot sign in, nor use an invitation link.
    educator_client.get("/login")
    refused = educator_client.post(
        "/login",
        data=form(educator_client, email="educatrice@example.org", password="demo-relais-2026"),
        follow_redirects=False,
    )
    assert refused.status_code == 400

    admin.post(f"/admin/staff/{educator.id}/enable", data=form(admin))
    login(educator_client, "educatrice@example.org")
    assert educator_client.get("/board").status_code == 200


def test_a_disabled_invitee_cannot_use_the_link(admin: TestClient, database_url: str) -> None:
    invite(admin, email="gone@example.org", name="Gone", role="admin")
    path = link_from(outbox_to(database_url, "gone@example.org")[0].body)
    user = user_by_email(database_url, "gone@example.org")
    assert user is not None
    admin.post(f"/admin/staff/{user.id}/disable", data=form(admin))
    response = admin.post(
        path, data=form(admin, password=NEW_PASSWORD, password_confirmation=NEW_PASSWORD)
    )
    assert response.status_code == 410

    async def tokens(session: AsyncSession) -> list[OneTimeLink]:
        rows = await session.execute(
            select(OneTimeLink).where(
                col(OneTimeLink.kind) == "staff", col(OneTimeLink.account_id) == user.id
            )
        )
        return list(rows.scalars())

    assert [t.used_at for t in in_db(database_url, tokens)] == [None]


def test_forms_need_the_csrf_token(admin: TestClient) -> None:
    response = admin.post("/admin/staff", data={"email": "x@example.org", "name": "X"})
    assert response.status_code == 403


def test_disabling_closes_the_open_board_socket(admin: TestClient, database_url: str) -> None:
    with on_the_board(admin, database_url, "educatrice@example.org") as (_, educator, ws):
        admin.post(f"/admin/staff/{educator.id}/disable", data=form(admin))
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
        assert closed.value.code == CLOSE_SESSION_ENDED


def test_moving_someone_reopens_their_board_in_the_new_place(
    admin: TestClient, database_url: str
) -> None:
    known = demo_ids(database_url)
    with on_the_board(admin, database_url, "accueil@example.org") as (
        reception_client,
        reception,
        ws,
    ):
        admin.post(
            f"/admin/staff/{reception.id}",
            data=form(admin, role="reception", installation_id=known["BOU"]),
        )
        with pytest.raises(WebSocketDisconnect):
            receive(ws)
    # Still signed in: the reloaded board is the new installation's.
    board = reception_client.get("/board")
    assert board.status_code == 200 and "Pavillon des Bouleaux" in board.text
