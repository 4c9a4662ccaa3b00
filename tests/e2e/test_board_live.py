"""The presence board, live: two tablets, an announcement through the API, the three steps."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from PIL import Image, ImageChops
from playwright.sync_api import Page, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin

from tests.e2e.conftest import LiveServer, TcpProxy, chimes
from tests.helpers import announce, announce_gps

pytestmark = pytest.mark.e2e

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "board.png"


def child_of_group(server: LiveServer, group_id: str) -> dict[str, object]:
    children = server.api("GET", "/children?installation_id=ERA").json()
    return next(c for c in children if c["group_id"] == group_id and c["present"])


def announce_gps_here(server: LiveServer, child: dict[str, Any]) -> dict[str, Any]:
    """A parent at the door (GPS at the installation): the alert is due at once."""
    return announce_gps(server.url, child["id"], child["guardian_ids"][0])


def test_alert_reaches_reception_and_educator_then_three_steps(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org")
    educator = new_tablet("educatrice@example.org")
    expect(educator.locator(".filters [aria-current=page]")).to_contain_text("Les Lutins")
    before = (chimes(reception), chimes(educator))

    child = child_of_group(live_server, "ERA-LUT")
    name = f"{child['first_name']} {child['last_name']}"
    started = time.monotonic()
    pickup = announce_gps_here(live_server, child)
    alert_r = reception.locator(f"#pickup-{pickup['id']}")
    alert_e = educator.locator(f"#pickup-{pickup['id']}")
    expect(alert_r).to_contain_text(name, timeout=1000)
    expect(alert_e).to_contain_text(name, timeout=1000)
    assert time.monotonic() - started < 1.0
    assert chimes(reception) == before[0] + 1
    assert chimes(educator) == before[1] + 1
    expect(alert_r).to_contain_text("Les Lutins")

    # Only the next step can be pressed.
    expect(alert_e.get_by_role("button", name="Prêt")).to_be_disabled()
    alert_e.get_by_role("button", name="Appeler").click()
    expect(alert_r).to_have_attribute("data-status", "called")
    expect(alert_r.locator(".badge")).to_have_text("En préparation")

    _take_readme_screenshot(live_server, reception)

    alert_r.get_by_role("button", name="Prêt").click()
    expect(alert_e).to_have_attribute("data-status", "ready")
    expect(alert_e.locator(".badge")).to_have_text("Prêt")

    alert_e.get_by_role("button", name="Départ").click()
    # One confirmation, with who the child is handed to.
    confirm = educator.get_by_role("dialog")
    expect(confirm).to_contain_text("Remis à")
    confirm.get_by_role("button", name=re.compile("^Oui, remis à")).click()
    expect(alert_r).to_have_count(0)
    expect(alert_e).to_have_count(0)
    # Departure checks the child out: it moves to the "gone home" list on both boards.
    for page in (reception, educator):
        expect(page.locator(f"#child-{_child_row_id(page, name)}.child--departed")).to_have_count(1)
    children = live_server.api("GET", "/children?installation_id=ERA").json()
    assert next(c for c in children if c["id"] == child["id"])["present"] is False


def _take_readme_screenshot(server: LiveServer, reception: Page) -> None:
    """The README's picture: one alert being prepared, one just arrived, one upcoming."""
    arriving = announce_gps_here(server, child_of_group(server, "ERA-EXP"))
    later = child_of_group(server, "ERA-HIB")
    upcoming = server.api(
        "POST",
        "/pickups",
        json={
            "child_id": later["id"],
            "guardian_id": later["guardian_ids"][0],  # type: ignore[index]
            "mode": "eta",
            "eta": "16:40",
        },
    ).json()
    expect(reception.locator(f"#pickup-{arriving['id']}")).to_be_visible()
    expect(reception.locator(f"#upcoming-{upcoming['id']}")).to_be_visible()
    reception.screenshot(path=str(SCREENSHOT))


def _child_row_id(page: Page, name: str) -> str:
    row = page.locator(".child", has_text=name).first
    return row.get_attribute("data-child") or ""


def test_other_groups_alert_shows_for_reception_not_my_group_then_follows_a_move(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org")
    educator = new_tablet("educatrice@example.org")  # "my group": Les Lutins
    child = child_of_group(live_server, "ERA-EXP")
    name = f"{child['first_name']} {child['last_name']}"
    chimes_before = chimes(educator)

    pickup = announce_gps_here(live_server, child)
    alert_r = reception.locator(f"#pickup-{pickup['id']}")
    expect(alert_r).to_contain_text("Les Explorateurs")
    # The educator's board has processed the same change (same sequence number) …
    seq = reception.locator("#board").get_attribute("data-seq")
    expect(educator.locator("#board")).to_have_attribute("data-seq", seq or "")
    # … and does not show another group's child, nor chime for it.
    expect(educator.locator(f"#pickup-{pickup['id']}")).to_have_count(0)
    assert chimes(educator) == chimes_before

    # Reception moves the child into Les Lutins from the board: the alert follows it.
    row = reception.locator(".child", has_text=name)
    row.get_by_role("button", name="Changer de groupe").click()
    row.get_by_role("button", name="Les Lutins").click()
    alert_e = educator.locator(f"#pickup-{pickup['id']}")
    expect(alert_e).to_contain_text(name)
    expect(alert_e).to_contain_text("Les Lutins")
    expect(alert_r).to_contain_text("Les Lutins")
    expect(educator.locator("#group-" + _group_id(educator, "Les Lutins"))).to_contain_text(name)


def _group_id(page: Page, name: str) -> str:
    section = page.locator(".group", has=page.locator("h3", has_text=name)).first
    return (section.get_attribute("id") or "").removeprefix("group-")


def test_scheduled_arrival_waits_in_upcoming_then_alerts_at_eta_minus_preparation(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org")
    child = child_of_group(live_server, "ERA-HIB")
    name = f"{child['first_name']} {child['last_name']}"
    chimes_before = chimes(reception)
    response = live_server.api(
        "POST",
        "/pickups",
        json={
            "child_id": child["id"],
            "guardian_id": child["guardian_ids"][0],  # type: ignore[index]
            "mode": "eta",
            "eta": "16:30",  # the clock says 16:00; preparation time is 5 minutes
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "scheduled"
    upcoming = reception.locator(f"#upcoming-{response.json()['id']}")
    expect(upcoming).to_contain_text(name)
    expect(upcoming).to_contain_text("16:30")
    expect(upcoming).to_contain_text("16:25")
    expect(reception.locator(f"#pickup-{response.json()['id']}")).to_have_count(0)

    live_server.clock.advance(timedelta(minutes=24, seconds=59))  # 16:24:59: not yet
    board_seq = reception.locator("#board").get_attribute("data-seq")
    live_server.api("POST", "/attendance", json={"child_id": child["id"], "present": True})
    expect(reception.locator("#board")).to_have_attribute("data-seq", board_seq or "")
    expect(reception.locator(f"#pickup-{response.json()['id']}")).to_have_count(0)

    live_server.clock.advance(timedelta(seconds=1))  # 16:25: ETA − preparation time
    alert = reception.locator(f"#pickup-{response.json()['id']}")
    expect(alert).to_contain_text(name)
    expect(alert).to_contain_text("16:30")
    expect(upcoming).to_have_count(0)
    assert chimes(reception) == chimes_before + 1


def test_ready_pressed_on_two_tablets_at_once_gives_one_transition(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org")
    educator = new_tablet("educatrice@example.org")
    child = child_of_group(live_server, "ERA-LUT")
    pickup = announce_gps_here(live_server, child)
    assert (
        live_server.api(
            "POST", f"/pickups/{pickup['id']}/status", json={"status": "called"}
        ).status_code
        == 200
    )
    for page in (reception, educator):
        expect(page.locator(f"#pickup-{pickup['id']}")).to_have_attribute("data-status", "called")

    # Both tablets press Prêt in the same instant (no wait between the two taps).
    press = f"document.querySelector('#pickup-{pickup['id']} .step--ready').click()"
    reception.evaluate(press)
    educator.evaluate(press)

    for page in (reception, educator):
        expect(page.locator(f"#pickup-{pickup['id']}")).to_have_attribute("data-status", "ready")
        expect(page.locator(".toast--error")).to_have_count(0)
        assert page.url.endswith("/board") or "/board?" in page.url
    [(transitions,)] = live_server.sql(
        "SELECT count(*) FROM pickup_event WHERE pickup_id = :id AND to_status = 'ready'",
        id=pickup["id"],
    )
    assert transitions == 1


def test_a_board_whose_socket_is_cut_converges_to_a_fresh_load(
    live_server: LiveServer, proxy: TcpProxy, new_tablet: Callable[..., Page]
) -> None:
    board = new_tablet("accueil@example.org", base=proxy.url)
    first = announce_gps_here(live_server, child_of_group(live_server, "ERA-LUT"))
    expect(board.locator(f"#pickup-{first['id']}")).to_be_visible()

    proxy.cut()
    expect(board.locator("#conn")).to_have_class("conn conn--reconnecting")
    # While the board is offline: a new alert, a step, a departure, an absence.
    second = announce_gps_here(live_server, child_of_group(live_server, "ERA-EXP"))
    live_server.api("POST", f"/pickups/{second['id']}/status", json={"status": "called"})
    for step in ("called", "ready", "departed"):
        live_server.api("POST", f"/pickups/{first['id']}/status", json={"status": step})
    absent = child_of_group(live_server, "ERA-HIB")
    live_server.api("POST", "/attendance", json={"child_id": absent["id"], "present": False})
    proxy.restore()

    expect(board.locator("#conn")).to_have_class("conn conn--live", timeout=15000)
    fresh = board.context.new_page()
    fresh.goto(f"{proxy.url}/board")
    expect(fresh.locator("#conn")).to_have_class("conn conn--live")
    assert board_content(board) == board_content(fresh)
    expect(board.locator(f"#pickup-{second['id']}")).to_have_attribute("data-status", "called")
    expect(board.locator(f"#pickup-{first['id']}")).to_have_count(0)


def board_content(page: Page) -> object:
    """What a person sees on the board, as data: alerts with their state, upcoming arrivals,
    and each group's children with their presence."""
    result: object = page.evaluate(
        """() => ({
          alerts: [...document.querySelectorAll('#alerts li.alert')].map(
            (li) => [li.id, li.dataset.status, li.innerText.replace(/\\s+/g, ' ').trim()]),
          upcoming: [...document.querySelectorAll('#upcoming li')].map((li) => li.id),
          groups: [...document.querySelectorAll('#sections .group')].map((g) => [
            g.id, [...g.querySelectorAll('.child')].map((c) => [c.id, c.className])]),
        })"""
    )
    return result


def test_a_foreign_origin_cannot_open_the_board_socket(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    board = new_tablet("accueil@example.org", sound=False)
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in board.context.cookies())
    ws_url = live_server.url.replace("http://", "ws://") + "/board/ws"

    # The same cookies from the board's own origin are accepted (so the refusal below is the
    # Origin check, not a missing session) …
    own = Origin(live_server.url)
    with ws_connect(ws_url, origin=own, additional_headers={"Cookie": cookies}) as ws:
        assert json.loads(ws.recv(timeout=5))["snapshot"] is True
    # … and refused from another site.
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(
            ws_url, origin=Origin("http://evil.example"), additional_headers={"Cookie": cookies}
        )
    assert refused.value.response.status_code == 403


def test_signing_out_ends_the_open_board(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    board = new_tablet("educatrice@example.org", sound=False)
    other_tab = board.context.new_page()
    other_tab.goto(f"{live_server.url}/board")
    expect(other_tab.locator("#conn")).to_have_class("conn conn--live")
    other_tab.locator("#user-menu summary").click()
    other_tab.get_by_role("button", name="Se déconnecter").click()
    expect(other_tab).to_have_url(re.compile(r"/login"))
    # The first tab's socket was closed by the server: it says so, then lands on sign-in.
    expect(board).to_have_url(re.compile(r"/login"))


def test_check_in_from_the_board_shows_on_the_other_tablet(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    child = child_of_group(live_server, "ERA-LUT")
    # The next morning: nobody has been checked in yet.
    live_server.clock.advance(timedelta(days=1))
    reception = new_tablet("accueil@example.org", sound=False)
    educator = new_tablet("educatrice@example.org", sound=False)
    name = f"{child['first_name']} {child['last_name']}"
    row = reception.locator(".child--absent", has_text=name)
    expect(row).to_be_visible()
    row.get_by_role("button", name="Arrivée").click()
    expect(
        educator.locator(".child:not(.child--absent):not(.child--departed)", has_text=name)
    ).to_be_visible()
    expect(reception.locator(".child--absent", has_text=name)).to_have_count(0)


def test_english_on_request(live_server: LiveServer, new_tablet: Callable[..., Page]) -> None:
    board = new_tablet("accueil@example.org", sound=False)
    board.goto(f"{live_server.url}/board?lang=en")
    expect(board.locator("#conn")).to_have_text("Live")
    announce_gps_here(live_server, child_of_group(live_server, "ERA-LUT"))
    steps = board.locator("#alerts .steps").first
    expect(steps.get_by_role("button")).to_have_text(["Call", "Ready", "Departed"])


def test_a_board_changed_live_looks_exactly_like_a_fresh_load(
    live_server: LiveServer, new_tablet: Callable[..., Page], tmp_path: Path
) -> None:
    """Each change sends only the rows it changed; after many of them (alerts arriving out
    of arrival order, steps, departures, an upcoming arrival, a child sent home, one checked
    in again, one moved to another group) the board is the same as the page loaded afresh:
    the same content, and the same picture but for the rasterizer's noise."""
    board = new_tablet("accueil@example.org", sound=False)
    # The board counts waiting minutes and GPS ages from the browser's clock, set to the
    # server's at each render. The server's clock is held still; the browser's is held still
    # too (for both pages: one context), or a board opened earlier could read « il y a 10 s »
    # where one opened a slow moment later reads « à l'instant ».
    board.clock.set_fixed_time(datetime(2026, 11, 30, 21, 0, tzinfo=UTC))
    board.reload()
    expect(board.locator("#conn")).to_have_class("conn conn--live")
    board.set_viewport_size({"width": 1180, "height": 820})
    children = live_server.api("GET", "/children?installation_id=ERA").json()
    present = [c for c in children if c["present"] and c["guardian_ids"]]

    def announce_child(child: dict[str, Any], **how: Any) -> int:
        with httpx.Client(base_url=live_server.url) as web:
            pickup_id: int = announce(web, child["id"], child["guardian_ids"][0], **how)["id"]
            return pickup_id

    def change(method: str, path: str, body: dict[str, object]) -> None:
        response = live_server.api(method, path, json=body)
        assert response.status_code == 200, response.text

    # Arrivals due at once, announced in the opposite order of their arrival times.
    pickups = [
        announce_child(c, mode="eta", eta=eta)
        for c, eta in zip(present, ("16:04", "16:02", "16:03"), strict=False)
    ]
    pickups += [announce_child(present[3], mode="gps", latitude=46.8139, longitude=-71.2082)]
    announce_child(present[4], mode="eta", eta="16:50")  # upcoming
    for status in ("called", "ready"):
        change("POST", f"/pickups/{pickups[1]}/status", {"status": status})
    change("POST", f"/pickups/{pickups[2]}/status", {"status": "called"})
    for status in ("called", "ready", "departed"):
        change("POST", f"/pickups/{pickups[0]}/status", {"status": status})
    change("POST", "/attendance", {"child_id": present[5]["id"], "present": False})
    change("POST", "/attendance", {"child_id": present[0]["id"], "present": True})
    others = [g for g in ("ERA-LUT", "ERA-EXP", "ERA-HIB") if g != present[3]["group_id"]]
    change("PATCH", f"/children/{present[3]['id']}", {"group_id": others[0]})
    [(seq,)] = live_server.sql("SELECT event_seq FROM installation WHERE external_id = 'ERA'")
    expect(board.locator("#board")).to_have_attribute("data-seq", str(seq))
    expect(board.locator("#alerts li.alert")).to_have_count(3)

    fresh = board.context.new_page()
    fresh.set_viewport_size({"width": 1180, "height": 820})
    fresh.goto(f"{live_server.url}/board")
    expect(fresh.locator("#conn")).to_have_class("conn conn--live")
    assert board_content(board) == board_content(fresh)
    board.screenshot(path=str(tmp_path / "live.png"), full_page=True)
    fresh.screenshot(path=str(tmp_path / "fresh.png"), full_page=True)
    assert pixel_difference(tmp_path / "live.png", tmp_path / "fresh.png") <= RASTER_NOISE


# Chromium's software rasterizer now and then draws the same text a level or three apart
# (seen: 32 pixels of the header, off by 1 to 3 of 255, same page, same words). A row out of
# place, another word or another colour differs by far more than this.
RASTER_NOISE = 8


def pixel_difference(first: Path, second: Path) -> int:
    """The largest difference, over every pixel and channel, of two pictures of one size."""
    with Image.open(first) as a, Image.open(second) as b:
        assert a.size == b.size, (a.size, b.size)
        difference = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
        per_channel = cast(tuple[tuple[int, int], ...], difference.getextrema())  # RGB: 3 pairs
        return max(high for _low, high in per_channel)
