"""`relais check` against a good configuration (exit 0, every line "ok") and broken ones (each
problem named in plain words, exit 1): the real command, in its own process, against a real
database, Redis and SMTP server."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from server.core.migrate import upgrade
from tests.helpers import free_port
from tests.redis_server import RedisServer
from tests.smtp import Inbox

RELAIS = Path(sys.executable).parent / "relais"
SECRET = "a-long-random-secret-for-the-check-tests-0123456789"


def run_check(
    env: dict[str, str], *args: str, limit_files: int | None = None
) -> subprocess.CompletedProcess[str]:
    def low_limit() -> None:
        if limit_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_files, limit_files))

    preexec: Callable[[], None] | None = low_limit if limit_files is not None else None
    return subprocess.run(
        [str(RELAIS), "check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec,  # lowers only this child process's own limit
        check=False,
    )


@pytest.fixture
def production(
    empty_database_url: str, redis_server: RedisServer, inbox: Inbox, tmp_path: Path
) -> dict[str, str]:
    """A production configuration that is right: a migrated database without demo accounts,
    Redis and a mail server that answer."""
    upgrade(empty_database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    return {
        **env,
        "RELAIS_DATABASE_URL": empty_database_url,
        "RELAIS_VAR_DIR": str(tmp_path),
        "RELAIS_SECRET_KEY": SECRET,
        "RELAIS_PUBLIC_URL": "https://relais.example.org",
        "RELAIS_REDIS_URL": redis_server.url,
        "RELAIS_SMTP_URL": f"smtp://127.0.0.1:{inbox.port}?from=relais@example.org",
        "RELAIS_WORKERS": "2",
    }


def test_a_right_configuration_passes(production: dict[str, str]) -> None:
    result = run_check(production)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "relais check: all is right."
    subjects = {line.split(":")[0].split()[-1] for line in lines[:-1]}
    assert {"address", "key", "database", "migrations", "accounts", "redis", "email", "files"} <= (
        subjects
    )
    assert all(line.lstrip().startswith("ok") for line in lines[:-1])


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"RELAIS_PUBLIC_URL": ""}, "set RELAIS_PUBLIC_URL"),
        ({"RELAIS_PUBLIC_URL": "http://relais.example.org"}, "over https://"),
        ({"RELAIS_SECRET_KEY": ""}, "set RELAIS_SECRET_KEY"),
        ({"RELAIS_SECRET_KEY": "short"}, "RELAIS_SECRET_KEY has 5 characters"),
        ({"RELAIS_REDIS_URL": ""}, "--workers above 1 needs RELAIS_REDIS_URL"),
        ({"RELAIS_REDIS_URL": "redis://127.0.0.1:{free}/0"}, "Redis (RELAIS_REDIS_URL) does not"),
        ({"RELAIS_SMTP_URL": ""}, "RELAIS_SMTP_URL is not set"),
        ({"RELAIS_SMTP_URL": "smtp://127.0.0.1:{free}"}, "the mail server 127.0.0.1:"),
        ({"RELAIS_LOG_FORMAT": "xml"}, "RELAIS_LOG_FORMAT must be text or json"),
        ({"RELAIS_CLOCK_OFFSET_SECONDS": "60"}, "RELAIS_CLOCK_OFFSET_SECONDS shifts the clock"),
        ({"RELAIS_DEMO": "1"}, "RELAIS_DEMO=1 is a demo"),
    ],
)
def test_each_problem_is_said_in_plain_words(
    production: dict[str, str], change: dict[str, str], said: str
) -> None:
    env = {**production, **{k: v.format(free=free_port()) for k, v in change.items()}}
    result = run_check(env)
    assert result.returncode == 1, result.stdout
    problems = [line for line in result.stdout.splitlines() if "PROBLEM" in line]
    assert len(problems) == 1, result.stdout
    assert said in problems[0]
    assert result.stdout.splitlines()[-1] == "relais check: 1 problem."


def test_a_database_that_is_not_there_or_not_migrated(
    production: dict[str, str], empty_database_url: str, tmp_path: Path
) -> None:
    if empty_database_url.startswith("sqlite"):
        unreachable = f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/relais.db"
    else:
        unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/relais"
    result = run_check({**production, "RELAIS_DATABASE_URL": unreachable})
    assert result.returncode == 1
    assert "PROBLEM  database: the database" in result.stdout
    assert "does not answer" in result.stdout

    fresh = str(tmp_path / "fresh.db")
    if empty_database_url.startswith("sqlite"):
        empty = f"sqlite+aiosqlite:///{fresh}"
    else:
        empty = empty_database_url
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                empty.rsplit("/", 1)[1],
                "-c",
                "UPDATE alembic_version SET version_num = '0007'",
            ],
            check=True,
            capture_output=True,
        )
    result = run_check({**production, "RELAIS_DATABASE_URL": empty})
    assert result.returncode == 1
    assert "run `relais migrate`" in result.stdout


def test_demo_accounts_are_a_problem(production: dict[str, str], database_url: str) -> None:
    result = run_check({**production, "RELAIS_DATABASE_URL": database_url})
    assert result.returncode == 1
    assert "PROBLEM  demo accounts: the demo accounts (password demo-relais-2026)" in (
        result.stdout
    )


def test_a_low_open_files_limit_is_a_problem(production: dict[str, str]) -> None:
    result = run_check(production, limit_files=1024)
    assert result.returncode == 1
    assert "PROBLEM  open files: a worker may open only 1024 files" in result.stdout


def test_serve_refuses_what_check_calls_a_start_problem(production: dict[str, str]) -> None:
    env = {**production, "RELAIS_LOG_FORMAT": "xml"}
    served = subprocess.run(
        [str(RELAIS), "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert served.returncode == 2
    assert "relais serve: RELAIS_LOG_FORMAT must be text or json" in served.stderr
