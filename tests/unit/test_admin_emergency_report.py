"""An emergency's report: the timeline in order (start, each check, undo and release with who
and when, end), the time until every child was accounted for, printable, and the same as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from server.core.models import Child, Emergency, Guardian, RollLine
from tests.helpers import csrf, demo_ids, in_db, page_text, sign_in_as, submit


def _one(database_url: str, model: type, **equal: Any) -> Any:
    async def work(session: Any) -> Any:
        return (await session.scalars(select(model).filter_by(**equal))).one()

    return in_db(database_url, work)


def _roll(database_url: str, emergency_id: int) -> list[int]:
    async def work(session: Any) -> list[int]:
        lines = await session.scalars(select(RollLine).filter_by(emergency_id=emergency_id))
        return sorted(line.child_id for line in lines)

    return in_db(database_url, work)


def _press(client: TestClient, path: str, **data: str) -> None:
    answer = client.post(path, data=data, headers={**csrf(client), "HX-Request": "true"})
    assert answer.status_code == 200, answer.text


def test_the_report_lists_every_step_in_order_with_the_time_to_account_for_all(
    client: TestClient, database_url: str, clock: Any
) -> None:
    sign_in_as(client, database_url, "admin", "direction@example.org")
    fields = {
        "installation_id": str(demo_ids(database_url)["ERA"]),
        "kind": "evacuation",
        "drill": "1",
        "message": "",
        "assembly_point": "Cour arrière",
    }
    assert submit(client, "/admin/emergency", fields, follow_redirects=False).status_code == 303
    emergency = _one(database_url, Emergency)
    lea = _one(database_url, Child, external_id="C-LEA")
    julie = _one(database_url, Guardian, external_id="G-TREMBLAY")
    base = f"/board/emergency/{emergency.id}/children"
    clock.advance(timedelta(seconds=30))
    _press(client, f"{base}/{lea.id}/present")
    clock.advance(timedelta(seconds=5))
    _press(client, f"{base}/{lea.id}/undo")
    clock.advance(timedelta(seconds=25))
    _press(client, f"{base}/{lea.id}/release", handed_to=str(julie.id))
    for child_id in _roll(database_url, emergency.id):
        if child_id != lea.id:
            clock.advance(timedelta(seconds=1))
            _press(client, f"{base}/{child_id}/present")
    total = len(_roll(database_url, emergency.id))
    clock.advance(timedelta(minutes=2))
    assert submit(client, f"/admin/emergency/{emergency.id}/end").status_code == 200

    report = page_text(client, f"/admin/emergency/{emergency.id}")
    timeline = report.split('id="timeline"')[1]
    order = [
        timeline.index("Début de l’urgence"),
        timeline.index("Présent"),
        timeline.index("Pointage annulé"),
        timeline.index("Julie Tremblay"),
        timeline.index("Fin de l’urgence"),
    ]
    assert order == sorted(order)
    # Everyone accounted for once the last child was checked, one second apart after Léa's
    # release at 60 s: 60 + (total − 1) seconds.
    after = 60 + total - 1
    assert f"{after // 60} min {after % 60:02d} s" in report.split('id="accounted-after"')[1][:80]
    assert "@media print" in client.get("/static/css/relais.css").text

    exported = client.get(f"/admin/emergency/{emergency.id}.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0] == ["Quand", "Quoi", "Enfant", "Par", "Remis à"]
    whats = [row[1] for row in rows[1:] if row]
    assert whats[0] == "Début de l’urgence" and whats[-2] == "Fin de l’urgence"
    assert whats[1:4] == ["Présent", "Pointage annulé", "Remis"]
    assert rows[3][2] == "Léa Tremblay" and rows[4][4] == "Julie Tremblay"
    assert rows[-1][0] == "Tous les enfants comptés après"

    listed = page_text(client, "/admin/emergency")
    drills = listed.split('id="drills"')[1].split('id="real"')[0]
    assert f'id="emergency-{emergency.id}"' in drills
    assert "Aucune urgence cette année." in listed.split('id="real"')[1]
