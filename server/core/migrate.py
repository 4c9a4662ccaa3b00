"""Apply the Alembic migrations to a database (what `relais migrate` does)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from .settings import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Blocking: call it before the event loop starts (it runs its own)."""
    command.upgrade(alembic_config(database_url), "head")
