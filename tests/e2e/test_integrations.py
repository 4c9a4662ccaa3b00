"""The integration set-up end to end, with a real SMTP server: configure an installation both
ways and watch the light (the link's real state: a typo in a form does not turn it red), a
duplicate email and wrong credentials refused, the data sync inviting parents (and not again
those just invited), and the centre's student list turning a child from orange to white."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from server.core import i18n
from server.core.settings import Settings
from tests.e2e.conftest import LiveServer
from tests.smtp import Inbox

pytestmark = pytest.mark.e2e

PASSWORD = "demo-relais-2026"


@pytest.fixture
def settings(settings: Settings, inbox: Inbox) -> Settings:
    return dataclasses.replace(settings, smtp_url=inbox.url)


def fr(message: str) -> str:
    with i18n.use_locale("fr_CA"):
        return i18n.gettext(message)


def installation_id(server: LiveServer, external_id: str) -> int:
    [(found,)] = server.sql("SELECT id FROM installation WHERE external_id = :e", e=external_id)
    return int(found)


def row(page: Page, inst: int) -> Locator:
    return page.locator(f"#installation-{inst}")


def test_configure_both_ways_and_the_light_follows(
    live_server: LiveServer, new_tablet: Callable[..., Page], inbox: Inbox
) -> None:
    era, bou = installation_id(live_server, "ERA"), installation_id(live_server, "BOU")
    # The demo configures both installations: make Bouleaux a site not set up yet.
    live_server.sql("DELETE FROM center_account WHERE installation_id = :i", i=bou)
    director = new_tablet("direction@example.org", path="/admin/integrations", sound=False)

    def state(inst: int) -> Locator:
        return row(director, inst).locator(".integrations-state")

    expect(state(era)).to_have_attribute("data-state", "ok")
    expect(state(bou)).to_have_attribute("data-state", "error")
    expect(state(bou)).to_have_text(fr("Not configured."))

    # Create an account for Bouleaux: first with an address already taken.
    row(director, bou).locator("summary").click()
    create = row(director, bou).locator("form[action$='/create']")
    create.locator("input[name=email]").fill("centre.erables@example.org")
    create.locator("input[name=password]").fill("un mot de passe long")
    create.locator("input[name=password_confirmation]").fill("un mot de passe long")
    create.get_by_role("button").click()
    refusal = fr(
        "The account could not be created: another installation of yours already uses this "
        "email address."
    )
    expect(row(director, bou)).to_contain_text(refusal)
    expect(state(bou)).to_have_attribute("data-state", "error")

    create = row(director, bou).locator("form[action$='/create']")
    create.locator("input[name=email]").fill("centre.bouleaux@example.org")
    create.locator("input[name=password]").fill("un mot de passe long")
    create.locator("input[name=password_confirmation]").fill("un mot de passe long")
    create.get_by_role("button").click()
    expect(state(bou)).to_have_attribute("data-state", "ok")
    (confirmation,) = inbox.wait_for(1)
    assert confirmation.to == ["centre.bouleaux@example.org"]

    # "I already have an account" for Érables, whose link works: a typo in the password is
    # the form's error, beside its fields; the light keeps the link's real state (green).
    row(director, era).locator("summary").click()
    existing = row(director, era).locator("form[action$='/existing']")
    existing.locator("input[name=email]").fill("centre.erables@example.org")
    existing.locator("input[name=password]").fill("pas le bon")
    existing.get_by_role("button").click()
    existing = row(director, era).locator("form[action$='/existing']")
    expect(existing.locator(".form-error")).to_have_text(fr("Wrong email or password."))
    expect(existing.locator("input[name=password]")).to_have_attribute("aria-invalid", "true")
    expect(state(era)).to_have_attribute("data-state", "ok")
    expect(state(era)).to_have_text(fr("Linked and working"))
    expect(row(director, era).locator(".integrations-light--ok")).to_be_visible()
    existing.locator("input[name=email]").fill("centre.erables@example.org")
    existing.locator("input[name=password]").fill(PASSWORD)
    existing.get_by_role("button").click()
    expect(state(era)).to_have_attribute("data-state", "ok")


def test_sync_invites_parents_and_the_student_list_turns_white_when_they_activate(
    live_server: LiveServer,
    new_tablet: Callable[..., Page],
    inbox: Inbox,
) -> None:
    director = new_tablet("direction@example.org", path="/admin/integrations", sound=False)
    director.locator("form[action='/admin/integrations/sync'] button").click()
    expect(director.locator("progress, .integrations-summary").first).to_be_visible()
    expect(director.get_by_text(fr("Synchronization finished."))).to_be_visible(timeout=20000)
    [(invited,)] = live_server.sql(
        "SELECT count(*) FROM guardian WHERE kind = 'guardian' AND account_state = 'invited'"
    )
    mails = inbox.wait_for(invited)
    assert len(mails) == invited  # every invited parent got exactly one email

    # Pressed again a minute later: nobody just invited is invited again, and it says so.
    live_server.clock.advance(timedelta(minutes=1))
    director.reload()
    director.locator("form[action='/admin/integrations/sync'] button").click()
    expect(director.get_by_text(fr("Synchronization finished."))).to_be_visible(timeout=20000)
    expect(director.locator("[data-count=recently_invited]")).to_have_text(str(invited))
    expect(director.locator("[data-count=invited]")).to_have_text("0")
    assert len(inbox.messages) == invited

    # The centre sees a family in orange; the parent activates; the family turns white.
    centre = director.context.browser.new_context().new_page()  # type: ignore[union-attr]
    centre.goto(f"{live_server.url}/portal/login")
    centre.fill("input[name=email]", "centre.erables@example.org")
    centre.fill("input[name=password]", PASSWORD)
    centre.locator("form button[type=submit]").click()
    centre.goto(f"{live_server.url}/portal/students")
    [(child_id, email)] = live_server.sql(
        "SELECT c.id, g.email FROM child c"
        " JOIN childguardian cg ON cg.child_id = c.id"
        " JOIN guardian g ON g.id = cg.guardian_id"
        " JOIN installation i ON i.id = c.installation_id"
        " WHERE i.external_id = 'ERA' AND g.account_state = 'invited' ORDER BY c.id LIMIT 1"
    )
    student = centre.locator(f"#student-{child_id}")
    expect(student).to_have_class("student student--pending")

    link = next(m for m in mails if m.to == [email]).link()
    phone = director.context.browser.new_context().new_page()  # type: ignore[union-attr]
    phone.goto(link)
    phone.fill("input[name=password]", "un long mot de passe")
    phone.fill("input[name=password_confirmation]", "un long mot de passe")
    phone.locator("form button[type=submit]").click()
    expect(phone).to_have_url(f"{live_server.url}/parent")

    centre.reload()
    expect(centre.locator(f"#student-{child_id}")).to_have_class("student student--active")
    phone.context.close()
    centre.context.close()
