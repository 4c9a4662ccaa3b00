"""Announce-to-board latency on a running demo server (a first figure; the full fan-out
benchmark comes with the scale-out work).

    python bench/announce_latency.py --url http://127.0.0.1:8000 --count 100

Signs in as reception, opens the board WebSocket, then for each of `count` children posts a
GPS announcement through the API and measures the time until the board's message carrying
that alert arrives (same host, one clock). Each pickup is then taken to Départ and the child
checked back in, so the demo is left as it was.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import httpx
from websockets.sync.client import connect
from websockets.typing import Origin

PASSWORD = "demo-relais-2026"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    api = httpx.Client(base_url=args.url, headers={"Authorization": "Bearer demo-api-token"})
    web = httpx.Client(base_url=args.url)
    web.get("/login")
    web.post(
        "/login",
        data={
            "email": "accueil@example.org",
            "password": PASSWORD,
            "csrf_token": web.cookies["relais_csrf"],
        },
    )
    cookie = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
    children = [c for c in api.get("/api/v1/children?installation_id=ERA").json() if c["present"]]
    latencies: list[float] = []
    ws_url = args.url.replace("http", "ws", 1) + "/board/ws?group=all"
    with connect(ws_url, origin=Origin(args.url), additional_headers={"Cookie": cookie}) as ws:
        json.loads(ws.recv())  # snapshot
        for i in range(args.count):
            child = children[i % len(children)]
            started = time.perf_counter()
            pickup = api.post(
                "/api/v1/pickups",
                json={
                    "child_id": child["id"],
                    "guardian_id": child["guardian_ids"][0],
                    "mode": "gps",
                    "latitude": 46.8139,
                    "longitude": -71.2082,
                },
            ).json()
            marker = re.compile(rf'id="pickup-{pickup["id"]}"')
            while not marker.search(json.loads(ws.recv()).get("content", "")):
                pass
            latencies.append((time.perf_counter() - started) * 1000)
            for step in ("called", "ready", "departed"):
                api.post(f"/api/v1/pickups/{pickup['id']}/status", json={"status": step})
            api.post("/api/v1/attendance", json={"child_id": child["id"], "present": True})
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    print(
        json.dumps(
            {
                "announcements": len(latencies),
                "p50_ms": round(statistics.median(latencies), 1),
                "p95_ms": round(p(0.95), 1),
                "max_ms": round(latencies[-1], 1),
                "note": "API POST sent -> board WebSocket message with the alert received",
            }
        )
    )


if __name__ == "__main__":
    main()
