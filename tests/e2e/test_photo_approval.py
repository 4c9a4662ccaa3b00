"""A pending photo blocks announcing until the centre approves it (issue 3, item 6).

The parent's phone is a browser context holding a parent session written directly in the
database (this test does not depend on the parent sign-in page); it sends the photo with the
context's own request API, which shares the context's cookies. The director approves in
/admin with the green "Oui", as the seed guide describes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, timedelta

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from server.core.i18n import _, use_locale
from server.core.security import new_token, token_hash
from server.photos import service as photos
from server.web.context import CSRF_COOKIE, PARENT_COOKIE
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

LEA = {"child_id": "C-LEA", "guardian_id": "G-TREMBLAY", "mode": "eta", "eta": "16:30"}


def french(message: str) -> str:
    with use_locale("fr_CA"):
        return _(message)


def picture(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    """A phone picture: taken sideways (EXIF orientation 6), with where it was taken."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825)[2] = (46.0, 48.0, 50.0)
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", exif=exif)
    return out.getvalue()


def parent_phone(browser: Browser, server: LiveServer) -> tuple[Page, str]:
    """A phone signed in as parent@example.org: (its page, its CSRF token)."""
    token = new_token()
    [(guardian_id,)] = server.sql("SELECT id FROM guardian WHERE email = 'parent@example.org'")
    # Stored as naive UTC, as the app's UTCDateTime columns keep instants.
    now = server.clock.now().astimezone(UTC).replace(tzinfo=None)
    server.sql(
        "INSERT INTO sign_in_session (token_hash, kind, account_id, created_at, expires_at, "
        "user_agent) VALUES (:token, 'parent', :guardian, :created, :expires, '')",
        token=token_hash(token),
        guardian=guardian_id,
        created=now,
        expires=now + timedelta(days=30),
    )
    context = browser.new_context(locale="fr-CA", viewport={"width": 412, "height": 915})
    context.add_cookies([{"name": PARENT_COOKIE, "value": token, "url": server.url}])
    page = context.new_page()
    assert page.request.get(f"{server.url}/healthz").ok  # any page sets the CSRF cookie
    csrf = next(c["value"] for c in context.cookies() if c["name"] == CSRF_COOKIE)
    return page, csrf


def test_a_pending_photo_blocks_announcing_until_the_director_says_oui(
    live_server: LiveServer, browser: Browser, new_tablet: Callable[..., Page]
) -> None:
    [(lea_id,)] = live_server.sql("SELECT id FROM child WHERE external_id = 'C-LEA'")
    # Léa already has an approved photo: the director compares it with the new one.
    before = photos.store(
        live_server.settings.photos_dir, photos.process_image(picture((80, 80), (30, 90, 200)))
    )
    live_server.sql("UPDATE child SET photo = :photo WHERE id = :id", photo=before, id=lea_id)

    phone, csrf = parent_phone(browser, live_server)
    sent = phone.request.post(
        f"{live_server.url}/parent/photos/child/{lea_id}",
        multipart={
            "csrf_token": csrf,
            "photo": {
                "name": "lea.jpg",
                "mimeType": "image/jpeg",
                "buffer": picture((600, 400), (220, 120, 40)),
            },
        },
        max_redirects=0,
    )
    assert sent.status == 303, sent.text()
    assert sent.headers["location"] == "/parent"
    [(photo, pending)] = live_server.sql(
        "SELECT photo, pending_photo FROM child WHERE id = :id", id=lea_id
    )
    assert photo == before and isinstance(pending, str)

    refused = live_server.api("POST", "/pickups", json=LEA)
    assert refused.status_code == 409 and refused.json()["reason"] == "photo_pending"

    director = new_tablet("direction@example.org", path="/admin")
    section = director.locator("#photo-approvals")
    expect(section.locator("h2")).to_have_text(french("Pending approval"))
    entry = section.locator(f"#photo-approval-child-{lea_id}")
    expect(entry).to_contain_text("Léa Tremblay")
    expect(entry).to_contain_text("Pavillon des Érables")
    # Both pictures are served to the director and show what was stored: the new one upright
    # (600 × 400 taken sideways), the former one as it was.
    sizes = entry.locator("img").evaluate_all(
        """imgs => Promise.all(imgs.map(img => img.decode().then(
             () => [img.naturalWidth, img.naturalHeight])))"""
    )
    assert sizes == [[80, 80], [400, 600]]

    yes = entry.get_by_role("button", name=french("Yes"), exact=True)
    expect(yes).to_have_css("background-color", "rgb(21, 128, 61)")  # the green "Oui"
    yes.click()

    expect(director).to_have_url(f"{live_server.url}/admin")
    expect(entry).to_have_count(0)
    expect(section).to_contain_text(french("No photo awaiting approval."))
    assert live_server.sql("SELECT photo, pending_photo FROM child WHERE id = :id", id=lea_id) == [
        (pending, None)
    ]

    announced = live_server.api("POST", "/pickups", json=LEA)
    assert announced.status_code == 201, announced.text
    phone.context.close()
