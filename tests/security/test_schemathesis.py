"""schemathesis against the API of a live server (uvicorn, the demo data, the test's clock):
every operation of the OpenAPI document, every check schemathesis has, a fixed seed and a
bounded number of cases, so the run is the same each time and stays short. Zero server
errors, zero answers that break the document (status codes, schemas, content types,
headers, Allow), schema-invalid requests refused and schema-valid ones accepted.

The roster goes last, on its own: a valid roster replaces the organization's whole roster
(an empty one deactivates every child), after which the other operations would only meet
"unknown child". Its configuration: schemathesis.toml, next to this file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server.core.clock import ManualClock
from server.core.settings import Settings
from tests.helpers import API_TOKEN
from tests.security.conftest import serving

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261124"
# Cases per operation and phase: about 700 requests in all, ten seconds or so.
MAX_EXAMPLES = "40"


def schemathesis(url: str, cwd: Path, *selection: str) -> tuple[int, str]:
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(CONFIG),
            "run",
            f"{url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {API_TOKEN}",
            "--seed",
            SEED,
            "--max-examples",
            MAX_EXAMPLES,
            "--workers",
            "1",
            "--request-timeout",
            "10",
            *selection,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,  # its cache (.hypothesis) stays out of the project
        env={**os.environ, "NO_COLOR": "1"},
    )
    return run.returncode, run.stdout + run.stderr


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    with serving(settings, clock) as url:
        code, report = schemathesis(url, tmp_path, "--exclude-path", "/roster")
        assert code == 0, report[-30_000:]
        assert "7 selected / 8 total" in report, report[-3_000:]
        code, report = schemathesis(url, tmp_path, "--include-path", "/roster")
        assert code == 0, report[-30_000:]
        assert "1 selected / 8 total" in report, report[-3_000:]
