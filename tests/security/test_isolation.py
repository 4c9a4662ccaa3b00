"""Role × resource × organization, as an attacker holding accounts in organization B sees it.

Every row acts twice with the same account: on A's resource (the demo organization's) —
which must answer like an unknown id (404, a refused socket, a filter refusing the
installation), change nothing at A, and show nothing of A — then on B's own (it works: the
probe is real). Over HTTP pages and buttons, the API, both WebSockets, wall displays, photos and the
release log's CSV, and the director's live overview.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from server.core.models import ApiToken, Child, Display, Guardian, StaffUser
from tests.helpers import API_TOKEN, B_GROUP, B_TOKEN, api_headers, in_db
from tests.security.conftest import (
    A_CENTRE,
    A_DISPLAY,
    A_MARKERS,
    B_DISPLAY,
    B_MARKERS,
    ORIGIN,
    Site,
    World,
    browser,
    outbox_count,
    post,
)

TOKENS = {"A": API_TOKEN, "B": B_TOKEN}
WS_ORIGIN = {"origin": ORIGIN}


@dataclass
class Seen:
    """What the attacker got back: the status (or "socket-refused") and the text shown."""

    status: int | str
    text: str


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def site_name(world: World, site: Site) -> str:
    return "A" if site == world.a else "B"


def pickup_status(world: World, site: Site) -> str:
    token = TOKENS[site_name(world, site)]
    listed = world.client.get("/api/v1/pickups", headers=api_headers(token)).json()
    return str(next(p["status"] for p in listed if p["id"] == site.pickup))


def row(world: World, model: Any, ident: int) -> Any:
    async def load(session: AsyncSession) -> Any:
        return await session.get(model, ident)

    return in_db(world.database_url, load)


def socket(client: TestClient, url: str) -> Seen:
    try:
        with client.websocket_connect(url, headers=WS_ORIGIN) as ws:
            first = ws.receive_json()
    except WebSocketDenialResponse:
        return Seen("socket-refused", "")
    except WebSocketDisconnect as closed:
        assert closed.code == 1008
        return Seen("socket-refused", "")
    # A board's first message is a snapshot; a parent's page gets its whole family region;
    # the director's overview every card.
    assert any(first.get(kind) is True for kind in ("snapshot", "family", "overview"))
    return Seen("snapshot", str(first.get("content", "")))


def seen(answer: Any) -> Seen:
    return Seen(answer.status_code, answer.text)


def posted(
    world: World, role: str, path: str, data: dict[str, Any] | None = None, **more: Any
) -> Seen:
    """What `role` sees when their browser posts to `path`."""
    return seen(post(browser(world, role), path, data, **more))


def fetched(world: World, role: str, path: str, **more: Any) -> Seen:
    """What `role` sees when their browser opens `path`."""
    return seen(browser(world, role).get(path, **more))


# -- the probes: (who acts, what they do to a site) → what they see -------------------------


def board_page(world: World, site: Site) -> Seen:
    return fetched(
        world, "b-reception", f"/board?installation={site.installation}", follow_redirects=False
    )


def board_button(world: World, site: Site) -> Seen:
    step = {"from": "announced", "to": "called"}
    return posted(world, "b-reception", f"/board/pickups/{site.pickup}/status", step)


def board_check_in(world: World, site: Site) -> Seen:
    return posted(world, "b-reception", f"/board/children/{site.other_child}/check-in")


def board_move(world: World, site: Site) -> Seen:
    into = {"group_id": str(site.other_group)}
    return posted(world, "b-reception", f"/board/children/{site.child}/group", into)


def board_move_into(world: World, site: Site) -> Seen:
    """B's own child, moved into the site's group."""
    into = {"group_id": str(site.other_group)}
    return posted(world, "b-reception", f"/board/children/{world.b.child}/group", into)


def board_socket(world: World, site: Site) -> Seen:
    client = browser(world, "b-reception")
    return socket(client, f"/board/ws?installation={site.installation}&group=all")


def display_page(world: World, site: Site) -> Seen:
    """B's wall screen link, asking for the site's installation."""
    return fetched(world, "b-anonymous", f"/display/{B_DISPLAY}?installation={site.installation}")


def display_socket(world: World, site: Site) -> Seen:
    client = browser(world, "b-anonymous")
    return socket(client, f"/board/ws?display={B_DISPLAY}&installation={site.installation}")


def revoke_display(world: World, site: Site) -> Seen:
    return posted(world, "b-admin", f"/admin/displays/{site.display}/revoke")


def parent_cancel(world: World, site: Site) -> Seen:
    return posted(world, "b-parent", f"/parent/pickups/{site.pickup}/cancel")


def parent_announce(world: World, site: Site) -> Seen:
    form = {"child_id": str(site.other_child), "in_minutes": "20"}
    return posted(world, "b-parent", "/parent/announce", form)


def parent_socket(world: World, site: Site) -> Seen:
    """The parent's live page follows their own family, whatever the URL asks."""
    client = browser(world, "b-parent")
    return socket(client, f"/parent/ws?installation={site.installation}&child={site.child}")


def overview_socket(world: World, site: Site) -> Seen:
    """B's director's live overview shows B's installations, whatever the URL asks."""
    client = browser(world, "b-admin")
    return socket(client, f"/admin/overview/ws?installation={site.installation}")


def photo_upload(world: World, site: Site) -> Seen:
    photo = {"photo": ("photo.jpg", jpeg(), "image/jpeg")}
    return posted(world, "b-parent", f"/parent/photos/child/{site.child}", files=photo)


def _pending_photo(world: World, site: Site) -> None:
    """The site's own parent sends a new photo of the child (it waits for approval)."""
    parent = browser(world, f"{site_name(world, site).lower()}-parent")
    sent = post(
        parent,
        f"/parent/photos/child/{site.child}",
        files={"photo": ("photo.jpg", jpeg(), "image/jpeg")},
    )
    assert sent.status_code == 303, sent.text


def photo_view(world: World, site: Site) -> Seen:
    _pending_photo(world, site)
    seen = []
    for role in ("b-admin", "b-parent", "b-centre"):
        answer = browser(world, role).get(f"/photos/child/{site.child}?pending=1")
        seen.append(answer)
    statuses = {answer.status_code for answer in seen}
    assert len(statuses) == 1, statuses
    return Seen(statuses.pop(), "")


def photo_approve(world: World, site: Site) -> Seen:
    _pending_photo(world, site)
    return posted(world, "b-centre", f"/portal/photos/child/{site.child}/approve")


def photo_approve_admin(world: World, site: Site) -> Seen:
    _pending_photo(world, site)
    return posted(world, "b-admin", f"/admin/photos/child/{site.child}/approve")


def log_csv(world: World, site: Site) -> Seen:
    client = browser(world, "b-admin")
    answer = client.get(f"/admin/log.csv?installation_id={site.installation}")
    everything = client.get("/admin/log.csv")
    return Seen(answer.status_code, answer.text + everything.text)


def log_page(world: World, site: Site) -> Seen:
    return fetched(world, "b-admin", f"/admin/log?installation_id={site.installation}")


def reports(world: World, site: Site) -> Seen:
    return fetched(world, "b-admin", f"/admin/reports?installation={site.installation}")


def disable_staff(world: World, site: Site) -> Seen:
    return posted(world, "b-admin", f"/admin/staff/{site.staff}/disable")


def revoke_token(world: World, site: Site) -> Seen:
    return posted(world, "b-admin", f"/admin/tokens/{site.token}/revoke")


def invite_guardian(world: World, site: Site) -> Seen:
    return posted(world, "b-admin", f"/admin/guardians/{site.guardian}/invite")


def family_page(world: World, site: Site) -> Seen:
    answer = browser(world, "b-admin").get(f"/admin/privacy/families/{site.guardian}")
    return Seen(answer.status_code, answer.text)


def family_export(world: World, site: Site) -> Seen:
    answer = post(browser(world, "b-admin"), f"/admin/privacy/families/{site.guardian}/export")
    # A zip is bytes: what it names is read as text (names are stored, not compressed away).
    text = answer.text if answer.status_code != 200 else zip_text(answer.content)
    return Seen(answer.status_code, text)


def family_erase(world: World, site: Site) -> Seen:
    """Erasing while the site's pickup is live: 409 at B's own (it got that far)."""
    client = browser(world, "b-admin")
    answer = post(client, f"/admin/privacy/families/{site.guardian}/erase", {"confirm": "erase"})
    return Seen(answer.status_code, answer.text)


def portal_activation(world: World, site: Site) -> Seen:
    """The centre account re-sends an activation email (the guardian must not have activated:
    the button is for invited parents)."""

    async def invited(session: AsyncSession) -> None:
        from server.core.models import Guardian

        guardian = await session.get(Guardian, site.guardian)
        assert guardian is not None
        guardian.account_state = "invited"
        session.add(guardian)

    in_db(world.database_url, invited)
    return posted(world, "b-centre", f"/portal/guardians/{site.guardian}/activation")


def integration_existing(world: World, site: Site) -> Seen:
    """B's director types A's centre account and its right password."""
    typed = {"email": A_CENTRE, "password": "demo-relais-2026"}
    return posted(world, "b-admin", f"/admin/integrations/{site.installation}/existing", typed)


def api_children(world: World, site: Site) -> Seen:
    answer = world.client.get(
        f"/api/v1/children?installation_id={site.installation_external}",
        headers=api_headers(B_TOKEN),
    )
    return seen(answer)


def api_move(world: World, site: Site) -> Seen:
    answer = world.client.patch(
        f"/api/v1/children/{site.child_external}",
        headers=api_headers(B_TOKEN),
        json={"group_id": "B-OURS" if site == world.b else "ERA-EXP"},
    )
    return seen(answer)


def api_attendance(world: World, site: Site) -> Seen:
    answer = world.client.post(
        "/api/v1/attendance",
        headers=api_headers(B_TOKEN),
        json={"child_id": site.child_external, "present": False},
    )
    return seen(answer)


def api_status(world: World, site: Site) -> Seen:
    answer = world.client.post(
        f"/api/v1/pickups/{site.pickup}/status",
        headers=api_headers(B_TOKEN),
        json={"status": "called"},
    )
    return seen(answer)


def api_announce_with_guardian(world: World, site: Site) -> Seen:
    """B's token, B's present child, the site's guardian."""
    answer = world.client.post(
        "/api/v1/pickups",
        headers=api_headers(B_TOKEN),
        json={
            "child_id": "B-C3",
            "guardian_id": site.guardian_external,
            "mode": "eta",
            "eta": "16:30",
        },
    )
    return seen(answer)


# -- what each probe must give on B's own resource, and whether A stayed untouched -----------

Check = Callable[[World, Site], bool]


def unchanged_pickup(world: World, site: Site) -> bool:
    return pickup_status(world, site) == "announced"


def child_in_its_group(world: World, site: Site) -> bool:
    return bool(row(world, Child, site.child).group_id == site.group)


def display_works(world: World, site: Site) -> bool:
    token = A_DISPLAY if site == world.a else B_DISPLAY
    return bool(world.client.get(f"/display/{token}").status_code == 200)


def staff_active(world: World, site: Site) -> bool:
    return bool(row(world, StaffUser, site.staff).active)


def token_works(world: World, site: Site) -> bool:
    return bool(row(world, ApiToken, site.token).revoked_at is None)


def no_pending_photo(world: World, site: Site) -> bool:
    return bool(row(world, Child, site.child).pending_photo is None)


def still_pending_photo(world: World, site: Site) -> bool:
    return bool(row(world, Child, site.child).pending_photo is not None)


def guardian_named(world: World, site: Site) -> bool:
    return bool(row(world, Guardian, site.guardian).first_name)


def zip_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "\n".join(
            archive.read(name).decode() for name in archive.namelist() if not name.endswith(".jpg")
        )


def no_pickup_for_other_child(world: World, site: Site) -> bool:
    token = TOKENS[site_name(world, site)]
    listed = world.client.get("/api/v1/pickups", headers=api_headers(token)).json()
    other = row(world, Child, site.other_child).external_id
    return all(p["child_id"] != other for p in listed)


def nothing(world: World, site: Site) -> bool:
    return True


@dataclass(frozen=True)
class Probe:
    act: Callable[[World, Site], Seen]
    own: int | str  # what B's own resource answers
    foreign: int | str  # what A's answers
    untouched: Check = nothing  # true at A afterwards
    show_own: bool = False  # the own answer shows B's markers


PROBES: dict[str, Probe] = {
    "board-page": Probe(board_page, 200, 404, show_own=True),
    "board-button": Probe(board_button, 200, 404, unchanged_pickup),
    "board-check-in": Probe(board_check_in, 200, 404),
    "board-move": Probe(board_move, 200, 404, child_in_its_group),
    "board-move-into-group": Probe(board_move_into, 200, 422),
    "board-socket": Probe(board_socket, "snapshot", "socket-refused"),
    "display-page": Probe(display_page, 200, 200, show_own=True),
    "display-socket": Probe(display_socket, "snapshot", "snapshot", show_own=True),
    "display-revoke": Probe(revoke_display, 303, 404, display_works),
    "parent-cancel": Probe(parent_cancel, 200, 404, unchanged_pickup),
    # Another family's child is not among the choices: "Choose at least one child".
    "parent-announce": Probe(parent_announce, 200, 200, no_pickup_for_other_child),
    "parent-socket": Probe(parent_socket, "snapshot", "snapshot", show_own=True),
    "overview-socket": Probe(overview_socket, "snapshot", "snapshot", show_own=True),
    "photo-upload": Probe(photo_upload, 303, 404, no_pending_photo),
    "photo-view": Probe(photo_view, 200, 404),
    "photo-approve-portal": Probe(photo_approve, 303, 404, still_pending_photo),
    "photo-approve-admin": Probe(photo_approve_admin, 303, 404, still_pending_photo),
    "log-csv": Probe(log_csv, 200, 400),
    "log-page": Probe(log_page, 200, 400),
    "reports": Probe(reports, 200, 400),
    "staff-disable": Probe(disable_staff, 303, 404, staff_active),
    "token-revoke": Probe(revoke_token, 303, 404, token_works),
    "guardian-invite": Probe(invite_guardian, 303, 404),
    "portal-activation": Probe(portal_activation, 303, 404),
    "family-page": Probe(family_page, 200, 404, show_own=True),
    "family-export": Probe(family_export, 200, 404, show_own=True),
    "family-erase": Probe(family_erase, 409, 404, guardian_named),
    "integration-existing": Probe(integration_existing, 400, 404),
    "api-children": Probe(api_children, 200, 404),
    "api-move": Probe(api_move, 200, 404, child_in_its_group),
    "api-attendance": Probe(api_attendance, 200, 404),
    "api-status": Probe(api_status, 200, 404, unchanged_pickup),
    "api-announce-foreign-guardian": Probe(api_announce_with_guardian, 201, 404),
}


@pytest.mark.parametrize("resource", list(PROBES))
def test_organization_b_reaches_its_own_and_nothing_of_a(world: World, resource: str) -> None:
    probe = PROBES[resource]

    # A's resource first: refused like an unknown id, nothing shown, nothing changed.
    emails_before = outbox_count(world.database_url)
    seen = probe.act(world, world.a)
    assert seen.status == probe.foreign, seen.text[:2000]
    for marker in A_MARKERS:
        assert marker not in seen.text, f"{resource} showed {marker!r} to organization B"
    assert probe.untouched(world, world.a), f"{resource} changed organization A"
    assert outbox_count(world.database_url) == emails_before, "an email went to A"

    # Then B's own, with the same account: it works, so the refusal above was no accident.
    seen = probe.act(world, world.b)
    assert seen.status == probe.own, seen.text[:2000]
    for marker in A_MARKERS:
        assert marker not in seen.text, f"{resource} showed {marker!r} to organization B"
    if probe.show_own:
        assert any(marker in seen.text for marker in B_MARKERS)


def test_a_display_link_never_shows_another_installation(world: World) -> None:
    client = browser(world, "b-anonymous")
    page = client.get(f"/display/{B_DISPLAY}?installation={world.a.installation}&group=all")
    assert B_GROUP in page.text
    for marker in A_MARKERS:
        assert marker not in page.text
    # A revoked link stops at once, page and socket.
    assert (
        post(browser(world, "b-admin"), f"/admin/displays/{world.b.display}/revoke").status_code
        == 303
    )
    assert client.get(f"/display/{B_DISPLAY}").status_code == 404
    assert socket(client, f"/board/ws?display={B_DISPLAY}").status == "socket-refused"
    assert row(world, Display, world.a.display).revoked_at is None


def test_the_overview_of_b_hears_nothing_of_a_change_at_a(world: World) -> None:
    """Live, too: B's director's open overview gets B's changes and never A's."""
    client = browser(world, "b-admin")
    with client.websocket_connect("/admin/overview/ws", headers=WS_ORIGIN) as ws:
        first = ws.receive_json()
        assert first.get("overview") is True and B_MARKERS[0] in first["content"]
        # A change at A, then one at B: the next message is B's, with nothing of A.
        for site in (world.a, world.b):
            answer = world.client.post(
                f"/api/v1/pickups/{site.pickup}/status",
                headers=api_headers(TOKENS[site_name(world, site)]),
                json={"status": "called"},
            )
            assert answer.status_code == 200, answer.text
        pushed = ws.receive_json()
        assert pushed.get("overview") is True
        assert B_MARKERS[0] in pushed["content"] and "badge--called" in pushed["content"]
        for marker in A_MARKERS:
            assert marker not in pushed["content"]
