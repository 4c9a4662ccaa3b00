"""Every page of every audience passes axe-core (through axe-playwright-python) with no
serious or critical violation, on a phone (390×844), a tablet (1180×820) and a wall screen
(1920×1080); the board's buttons and the parent's announcement work from the keyboard alone.

Also writes the README's pictures of the parent's phone, the centre portal and the
director's pages to docs/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts import one_time_links
from server.accounts.guardians import ACTIVATE, RESET
from server.accounts.staff import INVITE
from server.core.models import AccountKind, Guardian, StaffUser
from tests.e2e.conftest import LiveServer, sign_in_parent
from tests.helpers import PASSWORD, announce, in_db

pytestmark = pytest.mark.e2e

SIZES = {"phone": (390, 844), "tablet": (1180, 820), "wall": (1920, 1080)}
BLOCKING = {"serious", "critical"}
DOCS = Path(__file__).resolve().parents[2] / "docs"
AXE = Axe()


class Findings:
    """The serious and critical violations seen, one line per rule and page (with the sizes
    it showed at), and the elements at fault: what a failing run prints."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], dict[str, Any]] = {}

    def check(self, page: Page, where: str, size: str) -> None:
        for violation in AXE.run(page).response["violations"]:
            if violation["impact"] not in BLOCKING:
                continue
            found = self.seen.setdefault(
                (where, violation["id"]), {"violation": violation, "sizes": []}
            )
            found["sizes"].append(size)

    def report(self) -> str:
        lines = []
        for (where, rule), found in sorted(self.seen.items()):
            violation = found["violation"]
            lines.append(
                f"{where} [{', '.join(found['sizes'])}] {violation['impact']} {rule}: "
                f"{violation['help']}"
            )
            for node in violation["nodes"][:4]:
                summary = " ".join(node.get("failureSummary", "").split())[:300]
                lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
            if len(violation["nodes"]) > 4:
                lines.append(f"    … and {len(violation['nodes']) - 4} more elements")
        return "\n".join(lines)

    def assert_none(self) -> None:
        assert not self.seen, "axe-core found serious or critical violations:\n" + self.report()


def visit_all(page: Page, base: str, paths: Iterable[str], findings: Findings) -> None:
    """Every page at every size, in one browser tab."""
    paths = list(paths)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for path in paths:
            page.goto(base + path)
            findings.check(page, path, size)


def one_time_link(server: LiveServer, kind: AccountKind, email: str, purpose: str) -> str:
    """A fresh one-time link's token for this account, as the email would carry it."""
    owner = (
        select(col(Guardian.id)).where(col(Guardian.email) == email)
        if kind is AccountKind.PARENT
        else select(col(StaffUser.id)).where(col(StaffUser.email) == email)
    )

    async def issue(session: AsyncSession) -> str:
        account_id = (await session.scalars(owner)).one()
        assert account_id is not None
        return await one_time_links.issue(
            session, kind, account_id, purpose, timedelta(days=1), server.clock.now()
        )

    return in_db(server.settings.database_url, issue)


@pytest.fixture
def tab(browser: Browser) -> Iterator[Callable[[], Page]]:
    """A new tab in a browser context of its own (its own cookies), in French."""
    contexts: list[BrowserContext] = []

    def open_tab() -> Page:
        context = browser.new_context(locale="fr-CA")
        contexts.append(context)
        return context.new_page()

    yield open_tab
    for context in contexts:
        context.close()


def sign_in(page: Page, base: str, login_path: str, email: str, then: str) -> None:
    page.goto(f"{base}{login_path}?next={then}")
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    expect(page).not_to_have_url(f"{base}{login_path}?next={then}")


def test_sign_in_and_public_pages(live_server: LiveServer, tab: Callable[[], Page]) -> None:
    server = live_server
    activate = one_time_link(server, AccountKind.PARENT, "parent0001@example.org", ACTIVATE)
    reset = one_time_link(server, AccountKind.PARENT, "parent@example.org", RESET)
    staff = one_time_link(server, AccountKind.STAFF, "accueil@example.org", INVITE)
    findings = Findings()
    visit_all(
        tab(),
        server.url,
        [
            "/login",
            "/parent/login",
            "/portal/login",
            "/parent/forgot",
            f"/parent/activate/{activate}",
            f"/parent/reset/{reset}",
            f"/staff/set-password/{staff}",
            "/parent/activate/not-a-link",  # the expired-link page
            "/confidentialite",
            "/privacy",
            "/nulle-part",  # the error page
        ],
        findings,
    )
    findings.assert_none()


def test_parent_pages(live_server: LiveServer, tab: Callable[[], Page]) -> None:
    page = tab()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_parent(page, live_server.url)
    # Léa announced, her alert on the board: the page as a parent sees it on the way.
    with httpx.Client(base_url=live_server.url) as web:
        announce(web, "C-LEA", eta="16:05")
    findings = Findings()
    visit_all(page, live_server.url, ["/parent", "/parent/donnees", "/parent/offline"], findings)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/parent")
    expect(page.locator("#conn")).to_have_class("conn conn--live")
    page.screenshot(path=str(DOCS / "parent-phone.png"))
    findings.assert_none()


def test_board_and_wall(
    live_server: LiveServer,
    tab: Callable[[], Page],
    wall: Callable[..., Page],
) -> None:
    with httpx.Client(base_url=live_server.url) as web:
        announce(web, "C-LEA")  # an alert on the board
        announce(web, "C-NOAH", eta="17:30")  # and an upcoming arrival
    findings = Findings()
    for email in ("accueil@example.org", "educatrice@example.org"):
        page = tab()
        sign_in(page, live_server.url, "/login", email, "/board")
        visit_all(page, live_server.url, ["/board"], findings)
    for size, (width, height) in SIZES.items():
        findings.check(wall(width, height), "/display/…", size)
    findings.assert_none()


def test_portal_pages(live_server: LiveServer, tab: Callable[[], Page]) -> None:
    page = tab()
    sign_in(page, live_server.url, "/portal/login", "centre.erables@example.org", "/portal")
    findings = Findings()
    paths = ["/portal", "/portal/profile", "/portal/students", "/portal/approvals"]
    visit_all(page, live_server.url, paths, findings)
    page.set_viewport_size({"width": 1180, "height": 820})
    page.goto(f"{live_server.url}/portal/students")
    page.screenshot(path=str(DOCS / "portal.png"))
    findings.assert_none()


def test_admin_pages(live_server: LiveServer, tab: Callable[[], Page]) -> None:
    parent = live_server.sql("SELECT id FROM guardian WHERE email = 'parent@example.org'")[0][0]
    with httpx.Client(base_url=live_server.url) as web:
        announce(web, "C-LEA")  # the overview and the log have a line
    page = tab()
    sign_in(page, live_server.url, "/login", "direction@example.org", "/admin")
    findings = Findings()
    paths = [
        "/admin",
        "/admin/overview",
        "/admin/log",
        "/admin/reports",
        "/admin/staff",
        "/admin/displays",
        "/admin/parents",
        "/admin/tokens",
        "/admin/integrations",
        "/admin/roster",
        "/admin/privacy",
        f"/admin/privacy/families/{parent}",
        "/admin/incidents",
    ]
    visit_all(page, live_server.url, paths, findings)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/admin/overview")
    expect(page.locator("body")).to_contain_text("Léa Tremblay")
    page.screenshot(path=str(DOCS / "admin.png"))
    findings.assert_none()


# -- the keyboard alone ----------------------------------------------------------------------

FOCUSED = "element => element === document.activeElement"
DESCRIBE_FOCUS = """() => {
  const element = document.activeElement;
  return element ? `${element.tagName.toLowerCase()} ${(element.innerText || "").trim()}` : "";
}"""


def tab_to(page: Page, target: Locator, limit: int = 120) -> None:
    """Press Tab until `target` has the focus, which it must show (a focus ring); fail if
    Tab never reaches it."""
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate(FOCUSED):
            ring = target.evaluate("element => getComputedStyle(element).outlineStyle")
            assert ring != "none", f"{seen[-1:]} has the focus but shows no focus ring"
            return
        seen.append(str(page.evaluate(DESCRIBE_FOCUS)))
    raise AssertionError(f"Tab never reaches {target}; it went through {seen[:40]}")


def test_the_board_works_from_the_keyboard(
    live_server: LiveServer, tab: Callable[[], Page]
) -> None:
    with httpx.Client(base_url=live_server.url) as web:
        announce(web, "C-LEA")
    page = tab()
    page.set_viewport_size({"width": 1180, "height": 820})
    sign_in(page, live_server.url, "/login", "accueil@example.org", "/board")
    alert = page.locator("#alerts li.alert", has_text="Léa Tremblay")
    for step, status in (("Appeler", "called"), ("Prêt", "ready")):
        tab_to(page, alert.get_by_role("button", name=step))
        with page.expect_response(re.compile(r"/board/pickups/\d+/status")):
            page.keyboard.press("Enter")
        expect(alert).to_have_attribute("data-status", status)
        # The button's answer and the socket's echo both redraw the alert (and move the focus
        # off it): the next Tab starts once both are in.
        (seq,) = live_server.sql("SELECT event_seq FROM installation WHERE external_id = 'ERA'")
        expect(page.locator("#board")).to_have_attribute("data-seq", str(seq[0]))
    tab_to(page, alert.get_by_role("button", name="Départ"))
    page.keyboard.press("Enter")
    # The confirmation, from the keyboard too.
    tab_to(page, page.get_by_role("button", name=re.compile("^Oui, remis à")))
    page.keyboard.press("Enter")
    expect(alert).to_have_count(0)
    assert live_server.sql("SELECT status FROM pickup") == [("departed",)]


def test_the_parent_announces_from_the_keyboard(
    live_server: LiveServer, tab: Callable[[], Page]
) -> None:
    page = tab()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_parent(page, live_server.url)
    lea = page.get_by_role("checkbox", name=re.compile("Léa Tremblay"))
    tab_to(page, lea)
    if not lea.is_checked():
        page.keyboard.press("Space")
    expect(lea).to_be_checked()
    tab_to(page, page.get_by_role("button", name="+10 min"))
    page.keyboard.press("Enter")
    expect(page.locator(".kid", has_text="Léa")).to_contain_text("Prévu")
    announced = "SELECT first_name FROM pickup JOIN child ON child.id = pickup.child_id"
    assert ("Léa",) in live_server.sql(announced)
