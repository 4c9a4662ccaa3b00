"""The parent side as an installed app, in Debian's Chromium: a valid manifest, the service
worker registered with scope /parent, « Prêt » from the daycare's button through a real push
service to a notification naming the child, and the offline page when the server is gone."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect

from server.core.clock import ManualClock
from server.core.settings import Settings
from tests.e2e.conftest import LiveServer, serving, sign_in_parent
from tests.push_service import Browser as PushBrowser
from tests.push_service import PushService, check_vapid, demo_settings

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Chromium here has no vendor push service to subscribe with (Google's cannot be reached), so
# the page's PushManager hands out the subscription of the test's own push service: the
# endpoint and keys of a browser whose private key the test holds. Everything after — the
# page's script, the server, VAPID, encryption, the service worker — is the real thing.
STAND_IN_PUSH_MANAGER = """
(() => {
  const subscription = %s;
  // Kept across reloads, as a browser keeps its subscription.
  const KEPT = "stand-in-push-subscription";
  const made = () => ({
    endpoint: subscription.endpoint,
    options: { applicationServerKey: null },
    toJSON: () => subscription,
    unsubscribe: async () => { localStorage.removeItem(KEPT); return true; },
  });
  PushManager.prototype.subscribe = async function () {
    localStorage.setItem(KEPT, "yes");
    return made();
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem(KEPT) ? made() : null;
  };
})();
"""


# The notifications the worker shows, once there are some: the worker tells no page, so the
# page asks its registration again on each frame until then (a deadline, not a pause),
# returning as soon as one is shown.
SHOWN_NOTIFICATIONS = """
async (waitMs) => {
  const registration = await navigator.serviceWorker.ready;
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const shown = await registration.getNotifications();
    if (shown.length) return shown.map((n) => ({ title: n.title, body: n.body, url: n.data.url }));
    await new Promise(requestAnimationFrame);
  }
  return [];
}
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return demo_settings(database_url, tmp_path)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Callable[..., Page]]:
    """A parent's phone signed in through the parent sign-in page; notifications allowed."""
    contexts: list[BrowserContext] = []
    script_errors: list[str] = []

    def open_phone(url: str, init: str = "", locale: str = "fr-CA") -> Page:
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
            locale=locale,
            permissions=["notifications"],
        )
        contexts.append(context)
        context.on("weberror", lambda error: script_errors.append(str(error.error)))
        if init:
            context.add_init_script(init)
        page = context.new_page()
        sign_in_parent(page, url)
        return page

    yield open_phone
    for context in contexts:
        context.close()
    assert not script_errors, f"JavaScript errors on the page: {script_errors}"


def worker_ready(page: Page) -> str:
    """The service worker's scope once it is active (it has cached the offline page)."""
    scope: str = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    return scope


def registration_id(cdp: CDPSession, scope: str) -> str:
    """The worker's registration id, as DevTools knows it."""
    found: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: found.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _attempt in range(50):  # the event comes right after enable: ask, do not sleep
        live = [r for r in found if r["scopeURL"] == scope and not r["isDeleted"]]
        if live:
            return str(live[0]["registrationId"])
        cdp.send("Runtime.evaluate", {"expression": "1"})  # one round trip for events to come
    raise AssertionError(f"no service worker registration for {scope}: {found}")


def test_the_manifest_is_valid_and_the_worker_serves_slash_parent(
    live_server: LiveServer, phone: Callable[..., Page]
) -> None:
    page = phone(live_server.url)
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    data = json.loads(manifest["data"])
    assert data["start_url"] == "/parent" and data["scope"] == "/parent"
    assert data["display"] == "standalone" and data["theme_color"] == "#0b6e4f"
    assert data["name"] == "Relais — mes enfants"
    for icon in data["icons"]:
        fetched = page.request.get(live_server.url + icon["src"])
        assert fetched.ok and fetched.headers["content-type"] == "image/png"
    assert worker_ready(page) == f"{live_server.url}/parent"
    english = page.request.get(f"{live_server.url}/parent/manifest.webmanifest?lang=en").json()
    assert english["name"] == "Relais — my children"


def test_ready_reaches_a_notification_naming_the_child(
    live_server: LiveServer, phone: Callable[..., Page], push_server: PushService
) -> None:
    handset: PushBrowser = push_server.browser("phone")
    page = phone(live_server.url, STAND_IN_PUSH_MANAGER % json.dumps(handset.subscription()))
    scope = worker_ready(page)
    switch = page.get_by_label("Me prévenir même si mon téléphone est verrouillé")
    expect(switch).not_to_be_checked()  # off by default
    switch.check()
    expect(page.locator("#push-status")).to_have_text("Ce téléphone sera prévenu, même verrouillé.")
    page.reload()  # the server remembers it for this phone
    expect(page.get_by_label("Me prévenir même si mon téléphone est verrouillé")).to_be_checked()
    SHOTS.mkdir(exist_ok=True)
    page.locator("#push").screenshot(path=str(SHOTS / "parent-push-fr.png"))
    page.goto(f"{live_server.url}/parent?lang=en")
    expect(page.get_by_label("Notify me even if my phone is locked")).to_be_checked()
    page.locator("#push").screenshot(path=str(SHOTS / "parent-push-en.png"))
    page.goto(f"{live_server.url}/parent?lang=fr")
    page.screenshot(path=str(SHOTS / "parent-page-fr.png"), full_page=True)

    pickup = live_server.api(
        "POST",
        "/pickups",
        json={"child_id": "C-LEA", "guardian_id": "G-TREMBLAY", "mode": "eta", "eta": "16:00"},
    ).json()["id"]
    for status in ("called", "ready"):  # the daycare's Appeler, then Prêt
        answer = live_server.api("POST", f"/pickups/{pickup}/status", json={"status": status})
        assert answer.status_code == 200, answer.text
    (delivery,) = push_server.wait_for(1)
    key = page.request.get(f"{live_server.url}/parent/push/key").json()["key"]
    check_vapid(delivery, key, push_server.url)
    message = handset.decrypt(delivery)  # what Chromium's push service would hand the worker

    cdp = page.context.new_cdp_session(page)
    registration = registration_id(cdp, scope)
    # DevTools hands the message over once, fire and forget, and it is lost now and then (CI
    # once saw no notice after 15 s; most likely the worker was stopping for idleness). A push
    # service delivers again what was not acknowledged, so the test does too: up to three
    # times, and the notice's tag (one per child) keeps it to one notification whatever the count.
    shown: list[dict[str, str]] = []
    for _delivery in range(3):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": live_server.url,
                "registrationId": registration,
                "data": json.dumps(message, ensure_ascii=False),
            },
        )
        shown = page.evaluate(SHOWN_NOTIFICATIONS, 10_000)
        if shown:
            break
    assert shown == [
        {"title": "Prêt", "body": "Léa vous attend : vous pouvez entrer.", "url": "/parent"}
    ]


def test_the_offline_page_when_the_server_is_gone(
    settings: Settings, clock: ManualClock, phone: Callable[..., Page]
) -> None:
    with serving(settings, clock) as server:
        page = phone(server.url)
        worker_ready(page)
        page.reload()  # now under the worker's control
        expect(page.locator("#parent")).to_be_visible()
    # The server stopped: the phone has no network to Relais.
    page.goto(f"{server.url}/parent")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Pas de connexion — votre annonce reste enregistrée"
    )
    page.screenshot(path=str(SHOTS / "parent-offline-fr.png"))
