"""Parents' accounts end to end: the director sends an invitation from /admin/parents, a real SMTP
server (aiosmtpd) receives it, the parent opens the link on a phone, chooses a password and
lands on /parent signed in. Expired links offer a new one; a forgotten password works alike."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from server.accounts.guardians import ACTIVATION_LIFETIME
from server.core import i18n
from server.core.settings import Settings
from tests.e2e.conftest import LiveServer
from tests.smtp import Inbox

pytestmark = pytest.mark.e2e

INVITED = "parent0001@example.org"
PARENT = "parent@example.org"
NEW_PASSWORD = "un long mot de passe"


@pytest.fixture
def settings(settings: Settings, inbox: Inbox) -> Settings:
    """The live server (tests/e2e/conftest.py) is built on these: real SMTP."""
    return dataclasses.replace(settings, smtp_url=inbox.url)


@pytest.fixture
def new_phone(browser: Browser) -> Iterator[Callable[[], Page]]:
    """A parent's phone: its own browser context, so nothing is shared with the director."""
    contexts: list[BrowserContext] = []
    script_errors: list[str] = []

    def open_phone() -> Page:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="fr-CA"
        )
        context.on("weberror", lambda error: script_errors.append(str(error.error)))
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()
    assert not script_errors, f"JavaScript errors on the page: {script_errors}"


def fr(message: str) -> str:
    with i18n.use_locale("fr_CA"):
        return i18n.gettext(message)


def full_name(live_server: LiveServer, address: str) -> str:
    [(first, last)] = live_server.sql(
        "SELECT first_name, last_name FROM guardian WHERE email = :e", e=address
    )
    return f"{first} {last}"


def send_invitation(director: Page, address: str) -> None:
    row = director.locator("#parents tr", has_text=address)
    row.get_by_role("button").click()  # "Courriel d'activation"
    expect(director.locator("#parents .notice")).to_contain_text(address)


def choose_password(phone: Page) -> None:
    phone.fill("input[name=password]", NEW_PASSWORD)
    phone.fill("input[name=password_confirmation]", NEW_PASSWORD)
    phone.locator("form button[type=submit]").click()


def expect_signed_in_home(phone: Page, live_server: LiveServer, address: str) -> None:
    expect(phone).to_have_url(f"{live_server.url}/parent")
    assert any(c["name"] == "relais_parent" for c in phone.context.cookies())
    expect(phone.locator(".topbar__place")).to_have_text(full_name(live_server, address))


def test_invitation_email_then_activation_then_signed_in(
    live_server: LiveServer,
    new_tablet: Callable[..., Page],
    new_phone: Callable[[], Page],
    inbox: Inbox,
) -> None:
    director = new_tablet("direction@example.org", path="/admin/parents", sound=False)
    expect(director.locator("#parents tr", has_text=INVITED)).to_contain_text(fr("Invited"))
    send_invitation(director, INVITED)

    (mail,) = inbox.wait_for(1)
    assert mail.to == [INVITED]
    assert "Service de garde Les Érables" in mail.body
    link = mail.link()
    assert link.startswith(f"{live_server.url}/parent/activate/")

    phone = new_phone()
    phone.goto(link)
    expect(phone.locator("input[name=username]")).to_have_value(INVITED)
    choose_password(phone)
    expect_signed_in_home(phone, live_server, INVITED)

    director.reload()
    expect(director.locator("#parents tr", has_text=INVITED)).to_contain_text(fr("Active"))

    # The same link, opened again on another phone, says it was used.
    replay = new_phone()
    replay.goto(link)
    expect(replay.locator(".link-problem")).to_have_attribute("data-problem", "used")


def test_an_expired_link_offers_a_new_one_by_email(
    live_server: LiveServer,
    new_tablet: Callable[..., Page],
    new_phone: Callable[[], Page],
    inbox: Inbox,
) -> None:
    director = new_tablet("direction@example.org", path="/admin/parents", sound=False)
    send_invitation(director, INVITED)
    old_link = inbox.wait_for(1)[0].link()
    live_server.clock.advance(ACTIVATION_LIFETIME + timedelta(minutes=1))

    phone = new_phone()
    phone.goto(old_link)
    expect(phone.locator(".link-problem")).to_have_attribute("data-problem", "expired")
    phone.get_by_label(fr("Your email address")).fill(INVITED)
    phone.get_by_role("button", name=fr("Get a new link")).click()
    expect(phone.locator(".notice[role=status]")).to_have_text(
        fr("If an account exists for this address, an email has just been sent.")
    )

    fresh = inbox.wait_for(2)[1]
    assert fresh.to == [INVITED]
    new_link = fresh.link()
    assert new_link != old_link
    phone.goto(new_link)
    choose_password(phone)
    expect_signed_in_home(phone, live_server, INVITED)


def test_a_forgotten_password_is_replaced_from_the_sign_in_page(
    live_server: LiveServer, new_phone: Callable[[], Page], inbox: Inbox
) -> None:
    phone = new_phone()
    phone.goto(f"{live_server.url}/parent/login")
    phone.locator("a[href='/parent/forgot']").click()
    phone.fill("input[name=email]", PARENT)
    phone.locator("form button[type=submit]").click()
    expect(phone.locator(".notice[role=status]")).to_be_visible()

    link = inbox.wait_for(1)[0].link("reset")
    phone.goto(link)
    choose_password(phone)
    expect_signed_in_home(phone, live_server, PARENT)

    # Signed out, the old password no longer works and the new one does.
    phone.context.clear_cookies()
    phone.goto(f"{live_server.url}/parent/login")
    phone.fill("input[name=email]", PARENT)
    phone.fill("input[name=password]", "demo-relais-2026")
    phone.locator("form button[type=submit]").click()
    expect(phone.locator(".form-error")).to_have_text(fr("Wrong email or password."))
    phone.fill("input[name=password]", NEW_PASSWORD)
    phone.locator("form button[type=submit]").click()
    expect_signed_in_home(phone, live_server, PARENT)
