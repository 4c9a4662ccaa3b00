"""`relais backup FILE` and `relais restore FILE`.

SQLite: SQLite's online backup API, a consistent copy taken while workers serve (they keep
writing; the copy is the database as of one moment). PostgreSQL: `pg_dump` in its custom
format, restored by `pg_restore` in one transaction. A backup is written beside FILE and
renamed into place only once complete, so FILE is never half a backup.

A restore goes into an empty database only (it never overwrites one) and refuses a backup
made by a newer release (a schema this code does not know), saying so; a backup of an older
release is restored, then migrated.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url

from ..core.migrate import alembic_config, upgrade

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """Said to the operator as is: what is wrong and what to do."""


@dataclass(frozen=True)
class Target:
    """The database RELAIS_DATABASE_URL names, as the backup tools see it."""

    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        return Path(make_url(self.url).database or "")

    def libpq_environment(self) -> dict[str, str]:
        """pg_dump's and pg_restore's connection, in their environment: a password on the
        command line would show in the process list."""
        url = make_url(self.url)
        given = {
            "PGHOST": url.host,
            "PGPORT": str(url.port) if url.port else None,
            "PGUSER": url.username,
            "PGPASSWORD": url.password,
            "PGDATABASE": url.database,
        }
        return {**os.environ, **{k: v for k, v in given.items() if v}}


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: apt-get install postgresql-client")
    return found


def _run(command: list[str], target: Target) -> str:
    done = subprocess.run(
        command, env=target.libpq_environment(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()}")
    return done.stdout


def backup(database_url: str, destination: Path) -> None:
    target = Target(database_url)
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if target.is_sqlite:
            if not target.sqlite_path.exists():
                raise BackupError(f"there is no database at {target.sqlite_path}")
            source = sqlite3.connect(target.sqlite_path)
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)  # one step: the database as of one moment
            finally:
                copy.close()
                source.close()
        else:
            _run([_tool("pg_dump"), "--format=custom", f"--file={partial}"], target)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)


def _revision_in(file: Path, target: Target) -> str:
    """The schema revision a backup was made at."""
    if target.is_sqlite:
        backup_db = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            rows = backup_db.execute("SELECT version_num FROM alembic_version").fetchall()
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{file} is not a Relais backup: {error}") from None
        finally:
            backup_db.close()
        return ",".join(sorted(r[0] for r in rows))
    script = _run(
        [_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(file)],
        target,
    )
    lines = script.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith("COPY public.alembic_version")),
        None,
    )
    if start is None:
        raise BackupError(f"{file} is not a Relais backup: it holds no schema revision")
    rows = []
    for line in lines[start + 1 :]:
        if line == "\\.":
            break
        rows.append(line)
    return ",".join(sorted(rows))


def _check_kind(file: Path, target: Target) -> None:
    if not file.is_file():
        raise BackupError(f"there is no backup at {file}")
    with file.open("rb") as opened:
        head = opened.read(len(SQLITE_MAGIC))
    if target.is_sqlite and not head.startswith(SQLITE_MAGIC):
        raise BackupError(
            f"{file} is not a SQLite backup, and RELAIS_DATABASE_URL is a SQLite database"
        )
    if not target.is_sqlite and not head.startswith(PG_DUMP_MAGIC):
        raise BackupError(
            f"{file} is not a PostgreSQL backup (pg_dump's custom format), and "
            "RELAIS_DATABASE_URL is a PostgreSQL database"
        )


def _check_revision(revision: str, database_url: str) -> str:
    """The backup's revision, known to this release; else why not."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    head = script.get_current_head()
    try:
        known = script.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(
            f"this backup was made by a newer release of Relais (schema {revision}; this one "
            f"knows up to {head}): restore it with that release or a later one."
        )
    return f"schema {revision}" + ("" if revision == head else f", migrated to {head}")


def _is_empty(target: Target) -> bool:
    if target.is_sqlite:
        if not target.sqlite_path.exists():
            return True
        db = sqlite3.connect(target.sqlite_path)
        try:
            found = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
            return bool(found.fetchone()[0] == 0)
        finally:
            db.close()
    tables = _run(
        [
            _tool("psql"),
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "--command=SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        ],
        target,
    )
    return tables.strip() == "0"


def restore(database_url: str, file: Path) -> str:
    """Restore `file` into the empty database at `database_url`; what was restored."""
    target = Target(database_url)
    _check_kind(file, target)
    said = _check_revision(_revision_in(file, target), database_url)
    if not _is_empty(target):
        raise BackupError(
            "the database RELAIS_DATABASE_URL names is not empty: a restore never overwrites "
            "one. Restore into a new, empty database, then point Relais at it."
        )
    if target.is_sqlite:
        target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        copy = sqlite3.connect(target.sqlite_path)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    else:
        _run(
            [
                _tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={target.libpq_environment()['PGDATABASE']}",
                str(file),
            ],
            target,
        )
    upgrade(database_url)  # an older release's backup: brought to this release's schema
    return said
