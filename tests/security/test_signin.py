"""Sign-in throttling, the same for staff, parents and centre accounts: growing delays that
stop guessing, a page that says when to try again, and no way for a stranger to lock a
person out. The clock is the test's: waits are lived through by moving it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from server.core.clock import ManualClock
from server.core.i18n import _, ngettext, use_locale
from tests.helpers import B_ADMIN, PASSWORD, another_browser, sign_in_as
from tests.security.conftest import A_CENTRE, A_PARENT, A_RECEPTION, World, outbox_bodies, post

REALMS = {
    # realm: (sign-in page, account, where a success leads, sign-out)
    "staff": ("/login", A_RECEPTION, "/board", "/logout"),
    "parent": ("/parent/login", A_PARENT, "/parent", "/parent/logout"),
    "portal": ("/portal/login", A_CENTRE, "/portal/profile", "/portal/logout"),
}
WRONG = "pas le bon mot de passe"


def wait_text(minutes: int) -> str:
    with use_locale("fr_CA"):
        return str(
            escape(
                ngettext(
                    "Too many attempts. Try again in {n} minute.",
                    "Too many attempts. Try again in {n} minutes.",
                    minutes,
                ).format(n=minutes)
            )
        )


def browser_at(client: TestClient, address: str) -> TestClient:
    """Another browser, on another network address, on the same running app."""
    other = TestClient(client.app, base_url=str(client.base_url), client=(address, 50000))
    other.portal = client.portal
    return other


def attempt(realm: str) -> Callable[[TestClient, str], Any]:
    page, email, _home, _out = REALMS[realm]

    def sign_in(browser: TestClient, password: str) -> Any:
        browser.get(page)
        return post(browser, page, {"email": email, "password": password, "next": "/board"})

    return sign_in


@pytest.fixture(params=list(REALMS))
def realm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_wait_grows_with_each_failure_and_the_page_says_how_long(
    client: TestClient, clock: ManualClock, realm: str
) -> None:
    sign_in = attempt(realm)
    home = REALMS[realm][2]
    for _n in range(5):  # a few typing mistakes cost nothing
        assert sign_in(client, WRONG).status_code == 400
    for minutes in (1, 2, 4, 8, 15, 15):
        refused = sign_in(client, PASSWORD)  # even the right password waits
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(minutes * 60)
        assert wait_text(minutes) in refused.text
        assert not any(  # no session of any kind
            name in refused.cookies for name in ("relais_session", "relais_parent", "relais_portal")
        )
        clock.advance(timedelta(minutes=minutes) - timedelta(seconds=1))
        assert sign_in(client, PASSWORD).status_code == 429
        clock.advance(timedelta(seconds=1))
        assert sign_in(client, WRONG).status_code == 400
    clock.advance(timedelta(minutes=15))  # never more than the cap
    signed_in = sign_in(client, PASSWORD)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == home


def test_a_stranger_cannot_lock_a_person_out(
    client: TestClient, clock: ManualClock, realm: str
) -> None:
    sign_in = attempt(realm)
    page, _email, home, sign_out = REALMS[realm]
    person = browser_at(client, "192.0.2.10")
    assert sign_in(person, PASSWORD).status_code == 303
    assert post(person, sign_out).status_code == 303

    # Someone hammers the account for hours, from address after address, as fast as the
    # delays let them.
    for n in range(12):
        clock.advance(timedelta(minutes=15))  # the longest wait: every guess counts
        stranger = browser_at(client, f"198.51.100.{n}")
        assert sign_in(stranger, WRONG).status_code == 400

    # The person's own phone or tablet is not slowed at all.
    again = sign_in(person, PASSWORD)
    assert again.status_code == 303, again.text
    assert again.headers["location"] == home

    # On a new device they wait at most the cap (or use the link "forgot password").
    new_phone = browser_at(client, "192.0.2.11")
    refused = sign_in(new_phone, PASSWORD)
    assert refused.status_code == 429
    clock.advance(timedelta(minutes=15))
    assert sign_in(new_phone, PASSWORD).status_code == 303
    assert page


# The three realms share the code below: each property is shown on one of them.


@pytest.mark.parametrize("realm", ["parent"])
def test_a_known_browser_guessing_is_slowed_on_its_own(
    client: TestClient, clock: ManualClock, realm: str
) -> None:
    sign_in = attempt(realm)
    known = browser_at(client, "192.0.2.20")
    assert sign_in(known, PASSWORD).status_code == 303
    for _n in range(5):
        assert sign_in(known, WRONG).status_code == 400
    assert sign_in(known, PASSWORD).status_code == 429
    clock.advance(timedelta(minutes=1))
    assert sign_in(known, PASSWORD).status_code == 303


@pytest.mark.parametrize("realm", ["staff"])
def test_one_address_is_slowed_across_accounts(client: TestClient, realm: str) -> None:
    page = REALMS[realm][0]
    nat = browser_at(client, "203.0.113.50")
    for n in range(20):
        nat.get(page)
        wrong = post(nat, page, {"email": f"essai{n}@example.org", "password": WRONG})
        assert wrong.status_code == 400
    assert attempt(realm)(nat, PASSWORD).status_code == 429
    elsewhere = browser_at(client, "203.0.113.51")
    assert attempt(realm)(elsewhere, PASSWORD).status_code == 303


@pytest.mark.parametrize("realm", ["portal"])
def test_waiting_is_the_only_way_on(client: TestClient, clock: ManualClock, realm: str) -> None:
    """A refused attempt checks no password and counts nothing: hammering during the wait
    does not make it longer."""
    sign_in = attempt(realm)
    for _n in range(5):
        sign_in(client, WRONG)
    for _n in range(20):
        assert sign_in(client, WRONG).status_code == 429
    clock.advance(timedelta(minutes=1))
    assert sign_in(client, PASSWORD).status_code == 303


@pytest.mark.parametrize("realm", ["parent"])
def test_a_success_wipes_the_slate(client: TestClient, realm: str) -> None:
    sign_in = attempt(realm)
    for _n in range(4):
        assert sign_in(client, WRONG).status_code == 400
    assert sign_in(client, PASSWORD).status_code == 303
    for _n in range(4):
        assert sign_in(client, WRONG).status_code == 400
    assert sign_in(client, PASSWORD).status_code == 303


def test_a_director_cannot_try_another_organizations_centre_passwords(
    world: World, clock: ManualClock
) -> None:
    """« J'ai déjà un compte » looks among the organization's own centre accounts only: the
    right password of another organization's account is "wrong" like any, and trying is
    slowed like a sign-in."""
    director = sign_in_as(another_browser(world.client), world.database_url, "admin", B_ADMIN)
    path = f"/admin/integrations/{world.b.installation}/existing"
    right = post(director, path, {"email": A_CENTRE, "password": PASSWORD})
    assert right.status_code == 400
    with use_locale("fr_CA"):
        assert str(escape(_("Wrong email or password."))) in right.text
        assert str(escape(_("This account belongs to another installation."))) not in right.text
    for _n in range(4):
        assert post(director, path, {"email": A_CENTRE, "password": WRONG}).status_code == 400
    refused = post(director, path, {"email": A_CENTRE, "password": PASSWORD})
    assert refused.status_code == 429
    assert wait_text(1) in refused.text


def test_a_link_from_an_email_signs_in_and_makes_the_phone_known(
    client: TestClient, clock: ManualClock, database_url: str
) -> None:
    """The way out for a person on a new phone while someone hammers their account: "forgot
    password". The link signs them in, and from then on that phone is never slowed by the
    stranger."""
    sign_in = attempt("parent")
    for n in range(12):
        clock.advance(timedelta(minutes=15))
        assert sign_in(browser_at(client, f"198.51.100.{n}"), WRONG).status_code == 400
    phone = browser_at(client, "192.0.2.30")
    assert sign_in(phone, PASSWORD).status_code == 429

    phone.get("/parent/forgot")
    assert post(phone, "/parent/forgot", {"email": A_PARENT}).status_code == 200
    body = outbox_bodies(database_url)[-1]
    link = re.search(r"http://testserver(/parent/reset/[\w-]+)", body)
    assert link, body
    new_password = "un tout nouveau mot de passe"
    chosen = post(
        phone,
        link.group(1),
        {"password": new_password, "password_confirmation": new_password},
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/parent"
    assert post(phone, "/parent/logout").status_code == 303

    clock.advance(timedelta(minutes=15))
    stranger = browser_at(client, "198.51.100.99")
    assert sign_in(stranger, WRONG).status_code == 400  # still trying
    assert sign_in(phone, new_password).status_code == 303  # not slowed at all
