"""API v1 as an integrator sees it (CONTRACT.md): shapes, announcements, refusals, bad input.

Time is the injected ManualClock (T0 = 2026-11-24 16:00, Québec); nothing reads the real time.
"""

from __future__ import annotations

import json
from datetime import time, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server.core.clock import ManualClock
from server.core.models import Attendance, Child
from server.web.api import routes as api
from tests.helpers import T0, api_headers, in_db, send_announcement, set_call_window

HEADERS = api_headers()


def announce(
    client: TestClient, child: str = "C0001", guardian: str = "G0001", **extra: Any
) -> Any:
    return send_announcement(client, child, guardian, **{"mode": "eta", "eta": "16:30", **extra})


def pickups(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/pickups", headers=HEADERS, params=params)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def child(client: TestClient, external_id: str) -> dict[str, Any]:
    listed = client.get("/api/v1/children", headers=HEADERS).json()
    found: dict[str, Any] = next(c for c in listed if c["id"] == external_id)
    return found


def assert_refused(response: Any, status: int, *words: str) -> str:
    """A refusal an integrator can read: the status, and a sentence naming the problem."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and len(detail) > 10
    for word in words:
        assert word.lower() in detail.lower(), detail
    return detail


# -- reading -------------------------------------------------------------------------------------


def test_installations_have_the_contract_shape(client: TestClient) -> None:
    response = client.get("/api/v1/installations", headers=HEADERS)
    assert response.status_code == 200
    installations = {i["id"]: i for i in response.json()}
    assert set(installations) == {"ERA", "BOU"}
    for inst in installations.values():
        assert {"id", "name", "latitude", "longitude", "groups"} <= set(inst)
        assert isinstance(inst["latitude"], float) and isinstance(inst["longitude"], float)
        assert 46 < inst["latitude"] < 47 and -72 < inst["longitude"] < -71  # Québec City
        for group in inst["groups"]:
            assert set(group) == {"id", "name"}
    era = installations["ERA"]
    assert era["name"] == "Pavillon des Érables"
    assert {g["id"]: g["name"] for g in era["groups"]} == {
        "ERA-LUT": "Les Lutins",
        "ERA-EXP": "Les Explorateurs",
        "ERA-HIB": "Les Hiboux",
    }


def test_children_have_the_contract_shape(client: TestClient) -> None:
    response = client.get("/api/v1/children", headers=HEADERS, params={"installation_id": "ERA"})
    assert response.status_code == 200
    children = response.json()
    assert len(children) >= 40
    keys = {
        "id",
        "first_name",
        "last_name",
        "installation_id",
        "group_id",
        "present",
        "guardian_ids",
    }
    for c in children:
        assert keys <= set(c)
        assert c["installation_id"] == "ERA"
        assert c["present"] is True
        assert isinstance(c["guardian_ids"], list) and c["guardian_ids"]
    by_id = {c["id"]: c for c in children}
    assert by_id["C-LEA"]["first_name"] == "Léa"
    assert by_id["C-LEA"]["group_id"] == "ERA-LUT"
    # Julie, and the grandmother she authorized to pick up (the demo's authorized person).
    assert by_id["C-LEA"]["guardian_ids"] == ["A-TREMBLAY-DENISE", "G-TREMBLAY"]
    assert by_id["C-NOAH"]["group_id"] != "ERA-LUT"
    assert not any(c["id"] == "C0043" for c in children)  # a Bouleaux child


def test_children_of_unknown_installation_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/children", headers=HEADERS, params={"installation_id": "NOPE"})
    assert_refused(response, 404, "NOPE")


def test_unknown_status_filter_is_422(client: TestClient) -> None:
    response = client.get("/api/v1/pickups", headers=HEADERS, params={"status": "teleported"})
    assert_refused(response, 422, "teleported")


# -- announcing ----------------------------------------------------------------------------------


def test_eta_in_the_future_is_scheduled_preparation_time_before(client: TestClient) -> None:
    response = announce(client, eta="16:30")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["eta"] == "16:30"
    assert body["announce_at"] == "16:25"  # ETA − 5 min of preparation
    assert body["child_id"] == "C0001" and body["guardian_id"] == "G0001"
    assert isinstance(body["id"], int)
    assert [(p["id"], p["status"]) for p in pickups(client)] == [(body["id"], "scheduled")]


def test_eta_now_is_announced_at_once(client: TestClient, clock: ManualClock) -> None:
    clock.set(T0 + timedelta(minutes=37))  # 16:37 in Québec
    response = announce(client, eta="16:37")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "announced"
    assert body["announce_at"] == "16:32"
    assert pickups(client, status="announced")[0]["id"] == body["id"]
    assert pickups(client, status="scheduled") == []


def test_eta_long_past_is_refused(client: TestClient) -> None:
    assert_refused(announce(client, eta="15:00"), 409, "passed")
    assert pickups(client) == []


MALFORMED = [
    pytest.param({"eta": "25:00"}, "eta", id="hour-25"),
    pytest.param({"eta": "16:60"}, "eta", id="minute-60"),
    pytest.param({"eta": "abc"}, "eta", id="letters"),
    pytest.param({"eta": "4 pm"}, "eta", id="words"),
    pytest.param({"eta": None}, "eta", id="missing-eta"),
    pytest.param({"child_id": None}, "child_id", id="missing-child"),
    pytest.param({"nickname": "Mamie"}, "nickname", id="extra-field"),
    pytest.param({"mode": "bike"}, "mode", id="mode-bike"),
    pytest.param({"mode": None}, "mode", id="missing-mode"),
    pytest.param({"eta": 1630}, "eta", id="eta-not-a-string"),
]


@pytest.mark.parametrize(("change", "field"), MALFORMED)
def test_malformed_announcement_is_422_and_creates_nothing(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {
        "child_id": "C0001",
        "guardian_id": "G0001",
        "mode": "eta",
        "eta": "16:30",
    }
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = client.post("/api/v1/pickups", headers=HEADERS, json=body)
    detail = assert_refused(response, 422)
    errors = response.json().get("errors")
    if errors is not None:
        assert field in {e["field"] for e in errors}, errors
        assert all(isinstance(e["message"], str) and e["message"] for e in errors)
    else:  # a refused time: the sentence shows the expected format
        assert "HH:MM" in detail
    assert pickups(client) == []


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[1, 2]", id="json-array"),
        pytest.param(b"", id="empty"),
    ],
)
def test_announcement_that_is_not_a_json_object_is_422(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/api/v1/pickups", headers={**HEADERS, "content-type": "application/json"}, content=raw
    )
    assert_refused(response, 422)
    assert pickups(client) == []


def test_unknown_child_is_404(client: TestClient) -> None:
    assert_refused(announce(client, child="C9999"), 404, "C9999")
    assert pickups(client) == []


def test_unknown_guardian_is_404(client: TestClient) -> None:
    assert_refused(announce(client, guardian="G9999"), 404, "G9999")


def test_guardian_not_linked_to_the_child_is_409(client: TestClient) -> None:
    response = announce(client, child="C0001", guardian="G0002")
    assert_refused(response, 409, "guardian")
    assert response.json()["reason"] == "not_guardian"
    assert pickups(client) == []


def test_second_announcement_for_the_same_child_is_409(client: TestClient) -> None:
    first = announce(client, child="C-LEA", guardian="G-TREMBLAY", eta="16:30")
    assert first.status_code == 201
    again = announce(client, child="C-LEA", guardian="G-TREMBLAY", eta="16:45")
    assert_refused(again, 409, "already")
    listed = pickups(client)
    assert [(p["id"], p["eta"]) for p in listed] == [(first.json()["id"], "16:30")]


def test_absent_child_cannot_be_announced(client: TestClient) -> None:
    response = client.post(
        "/api/v1/attendance", headers=HEADERS, json={"child_id": "C0001", "present": False}
    )
    assert response.status_code == 200
    assert child(client, "C0001")["present"] is False
    refused = announce(client)
    assert_refused(refused, 409)
    # Marked absent through the API is recorded as a check-out: either reason is a refusal
    # the integrator can act on.
    assert refused.json()["reason"] in {"child_absent", "child_departed"}
    assert pickups(client) == []


def test_child_not_arrived_today_cannot_be_announced(client: TestClient, database_url: str) -> None:
    async def never_came(session: AsyncSession) -> None:
        child_id = (
            await session.execute(select(col(Child.id)).where(col(Child.external_id) == "C0001"))
        ).scalar_one()
        await session.execute(delete(Attendance).where(col(Attendance.child_id) == child_id))

    in_db(database_url, never_came)
    assert child(client, "C0001")["present"] is False
    refused = announce(client)
    assert_refused(refused, 409, "present")
    assert refused.json()["reason"] == "child_absent"
    assert pickups(client) == []


def test_marking_absent_cancels_the_live_pickup(client: TestClient) -> None:
    created = announce(client, eta="16:00").json()
    response = client.post(
        "/api/v1/attendance", headers=HEADERS, json={"child_id": "C0001", "present": False}
    )
    assert response.status_code == 200
    assert [p["status"] for p in pickups(client) if p["id"] == created["id"]] == ["cancelled"]


def test_outside_the_call_window_is_422_and_names_the_window(
    client: TestClient, database_url: str
) -> None:
    set_call_window(database_url, time(7, 0), time(15, 30))
    response = announce(client, eta="16:30")
    detail = assert_refused(response, 422, "07:00", "15:30")
    assert response.json()["reason"] == "outside_window"
    assert "16:30" not in detail
    assert pickups(client) == []
    # French on request, same window.
    french = client.post(
        "/api/v1/pickups?lang=fr",
        headers=HEADERS,
        json={"child_id": "C0001", "guardian_id": "G0001", "mode": "eta", "eta": "16:30"},
    )
    assert_refused(french, 422, "07:00", "15:30")


# -- the three steps -----------------------------------------------------------------------------


def advance(client: TestClient, pickup_id: int, status: str) -> Any:
    return client.post(
        f"/api/v1/pickups/{pickup_id}/status", headers=HEADERS, json={"status": status}
    )


def test_steps_only_in_order_then_child_is_gone(client: TestClient) -> None:
    pickup = announce(client, eta="16:00").json()
    assert pickup["status"] == "announced"
    pid = pickup["id"]

    skipped = advance(client, pid, "ready")
    assert_refused(skipped, 409, "next step")
    assert skipped.json()["reason"] == "not_next_step"
    assert pickups(client)[0]["status"] == "announced"

    seqs = [pickup["seq"]]
    for step in ("called", "ready", "departed"):
        response = advance(client, pid, step)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == step
        assert response.json()["id"] == pid
        seqs.append(response.json()["seq"])
    # Each change is the installation's next event: a board shows it once it has that seq.
    assert seqs == list(range(seqs[0], seqs[0] + 4))

    assert child(client, "C0001")["present"] is False
    assert pickups(client, status="departed")[0]["id"] == pid
    assert_refused(advance(client, pid, "called"), 409)
    # Gone home today: no new announcement either.
    assert_refused(announce(client, eta="16:30"), 409, "left")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"status": "announced"}, id="not-a-staff-step"),
        pytest.param({"status": "flying"}, id="unknown-status"),
        pytest.param({}, id="missing-status"),
    ],
)
def test_bad_status_body_is_422(client: TestClient, body: dict[str, Any]) -> None:
    pid = announce(client, eta="16:00").json()["id"]
    response = client.post(f"/api/v1/pickups/{pid}/status", headers=HEADERS, json=body)
    assert_refused(response, 422)
    assert "status" in {e["field"] for e in response.json()["errors"]}
    assert pickups(client)[0]["status"] == "announced"


@pytest.mark.parametrize(
    "pickup_id", ["999999", "abc", "2147483648", "99999999999999999999999", "-1", "١٢"]
)
def test_status_of_unknown_pickup_is_404(client: TestClient, pickup_id: str) -> None:
    response = client.post(
        f"/api/v1/pickups/{pickup_id}/status", headers=HEADERS, json={"status": "called"}
    )
    assert_refused(response, 404, pickup_id)


# -- moving a child ------------------------------------------------------------------------------


def test_patch_child_moves_it_to_another_group(client: TestClient) -> None:
    response = client.patch("/api/v1/children/C-LEA", headers=HEADERS, json={"group_id": "ERA-HIB"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": "C-LEA", "group_id": "ERA-HIB"}
    assert child(client, "C-LEA")["group_id"] == "ERA-HIB"


def test_live_pickup_follows_the_moved_child(client: TestClient) -> None:
    pid = announce(client, child="C-LEA", guardian="G-TREMBLAY", eta="16:00").json()["id"]
    client.patch("/api/v1/children/C-LEA", headers=HEADERS, json={"group_id": "ERA-HIB"})
    assert [p["group_id"] for p in pickups(client) if p["id"] == pid] == ["ERA-HIB"]


@pytest.mark.parametrize(
    "group_id",
    [pytest.param("ERA-NOPE", id="unknown"), pytest.param("BOU-CAS", id="other-installation")],
)
def test_patch_child_to_unknown_group_is_422(client: TestClient, group_id: str) -> None:
    response = client.patch("/api/v1/children/C-LEA", headers=HEADERS, json={"group_id": group_id})
    assert_refused(response, 422, group_id)
    assert child(client, "C-LEA")["group_id"] == "ERA-LUT"


def test_patch_unknown_child_is_404(client: TestClient) -> None:
    response = client.patch("/api/v1/children/C9999", headers=HEADERS, json={"group_id": "ERA-HIB"})
    assert_refused(response, 404, "C9999")


# -- size, format, documentation -----------------------------------------------------------------

BIG = 64 * 1024 + 1


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        pytest.param(
            "POST",
            "/api/v1/pickups",
            json.dumps(
                {
                    "child_id": "C0001",
                    "guardian_id": "G0001",
                    "mode": "eta",
                    "eta": "16:30",
                    "note": "x" * BIG,
                }
            ).encode(),
            id="pickups-json",
        ),
        pytest.param("POST", "/api/v1/pickups", b"x" * BIG, id="pickups-garbage"),
        pytest.param(
            "POST",
            "/api/v1/attendance",
            json.dumps({"child_id": "C0001", "present": False, "pad": "x" * BIG}).encode(),
            id="attendance",
        ),
        pytest.param(
            "PATCH",
            "/api/v1/children/C-LEA",
            json.dumps({"group_id": "ERA-HIB", "pad": "x" * BIG}).encode(),
            id="children",
        ),
    ],
)
def test_body_over_64_kb_is_413(client: TestClient, method: str, path: str, content: bytes) -> None:
    assert len(content) > api.MAX_BODY_BYTES
    response = client.request(
        method, path, headers={**HEADERS, "content-type": "application/json"}, content=content
    )
    assert_refused(response, 413, "large")
    assert pickups(client) == []
    lea, first = child(client, "C-LEA"), child(client, "C0001")
    assert lea["group_id"] == "ERA-LUT" and first["present"] is True


def test_openapi_document_lists_every_path(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    served = {route.path for route in api.routes} - {"/openapi.json"}

    # Path parameters may be named differently in the document; compare the shapes.
    def shape(path: str) -> str:
        return "/".join("{}" if part.startswith("{") else part for part in path.split("/"))

    assert {shape(p) for p in served} <= {shape(p) for p in paths}
    for required in ("/installations", "/children", "/attendance", "/pickups"):
        assert required in paths
    assert "patch" in next(v for p, v in paths.items() if shape(p) == "/children/{}")
    assert {"get", "post"} <= set(paths["/pickups"])


def test_answers_are_english_by_default_and_french_on_request(client: TestClient) -> None:
    english = assert_refused(announce(client, child="C9999"), 404, "C9999")
    french = client.post(
        "/api/v1/pickups?lang=fr",
        headers=HEADERS,
        json={"child_id": "C9999", "guardian_id": "G0001", "mode": "eta", "eta": "16:30"},
    )
    assert_refused(french, 404, "C9999")
    assert english.startswith("Unknown")
