"""What the migrations wrote again and again, written once. Each helper builds exactly the
column, constraint or index Alembic's autogenerate wrote in its place: the schema a migration
makes is unchanged (compare `sqlite3 DB .schema` and `pg_dump -s` before and after a change
here). A migration only ever adds to this module: never change what a helper builds."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

from server.core.db import UTCDateTime


def text(name: str, length: int | None = None, *, nullable: bool = False, **kw: Any) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable, **kw)


def integer(name: str = "id", *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def number(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float(), nullable=nullable)


def flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False)


def moment(name: str, *, nullable: bool = False) -> sa.Column:
    """A UTC timestamp (server.core.db.UTCDateTime)."""
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def token(name: str = "token_hash") -> sa.Column:
    return text(name, 64)


def references(**targets: str) -> list[sa.ForeignKeyConstraint]:
    """`group_id="child_group"`: the column refers to that table's id, in the order given."""
    return [sa.ForeignKeyConstraint([column], [f"{table}.id"]) for column, table in targets.items()]


def index(table: str, *columns: str) -> None:
    """A plain index on each column, named ix_<table>_<column>."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def drop_index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))


def drop_table(table: str, *indexed: str) -> None:
    """The table, after the plain indexes on `indexed`."""
    if indexed:
        drop_index(table, *indexed)
    op.drop_table(table)


def session_table(name: str, owner: str, owner_table: str, *extra: sa.Column) -> None:
    """A sign-in session: its token's hash as the key, whose it is, when it ends."""
    op.create_table(
        name,
        token(),
        integer(owner),
        moment("created_at"),
        moment("expires_at"),
        *extra,
        *references(**{owner: owner_table}),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    index(name, owner)


def link_table(name: str, owner: str, owner_table: str) -> None:
    """A one-time link (an invitation, a password reset): used once, before it expires."""
    op.create_table(
        name,
        integer(),
        integer(owner),
        text("purpose", 16),
        token(),
        moment("created_at"),
        moment("expires_at"),
        moment("used_at", nullable=True),
        *references(**{owner: owner_table}),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    index(name, owner)
