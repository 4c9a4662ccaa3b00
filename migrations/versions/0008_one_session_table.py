"""One sign-in mechanism: the staff, parent and centre sessions in one table with a kind, the
staff and parent one-time links in another; the rows are copied over, both ways
(revision 0008, 2026-12-04)."""

import sqlalchemy as sa
from alembic import op

from migrations.columns import (
    drop_table,
    integer,
    link_table,
    moment,
    session_table,
    text,
    token,
)

revision, down_revision = "0008", "0007"

# The old tables: (table, the column naming its owner, the owner's table, kind).
SESSIONS = (
    ("staff_session", "user_id", "staff_user", "staff"),
    ("guardian_session", "guardian_id", "guardian", "parent"),
    ("center_session", "center_account_id", "center_account", "centre"),
)
LINKS = (
    ("staff_token", "staff_user_id", "staff_user", "staff"),
    ("account_token", "guardian_id", "guardian", "parent"),
)
# Centre sessions kept no user agent.
WITH_USER_AGENT = {"staff_session", "guardian_session"}
SESSION_COLUMNS = "token_hash, created_at, expires_at"
LINK_COLUMNS = "purpose, token_hash, created_at, expires_at, used_at"


def upgrade() -> None:
    op.create_table(
        "sign_in_session",
        token(),
        text("kind", 16),
        integer("account_id"),
        moment("created_at"),
        moment("expires_at"),
        text("user_agent", 300),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_sign_in_session_kind_account_id", "sign_in_session", ["kind", "account_id"])
    op.create_table(
        "one_time_link",
        integer(),
        text("kind", 16),
        integer("account_id"),
        text("purpose", 16),
        token(),
        moment("created_at"),
        moment("expires_at"),
        moment("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_one_time_link_kind_account_id", "one_time_link", ["kind", "account_id"])
    for table, owner, _owner_table, kind in SESSIONS:
        agent = "user_agent" if table in WITH_USER_AGENT else "''"
        op.execute(
            f"INSERT INTO sign_in_session (kind, account_id, {SESSION_COLUMNS}, user_agent) "
            f"SELECT '{kind}', {owner}, {SESSION_COLUMNS}, {agent} FROM {table}"
        )
        drop_table(table, owner)
    for table, owner, _owner_table, kind in LINKS:
        op.execute(
            f"INSERT INTO one_time_link (kind, account_id, {LINK_COLUMNS}) "
            f"SELECT '{kind}', {owner}, {LINK_COLUMNS} FROM {table} ORDER BY id"
        )
        drop_table(table, owner)


def downgrade() -> None:
    # Rows whose account no longer exists have nowhere to go (the old tables had foreign keys).
    for table, owner, owner_table, kind in SESSIONS:
        agent = (text("user_agent", 300),) if table in WITH_USER_AGENT else ()
        session_table(table, owner, owner_table, *agent)
        columns = f"{SESSION_COLUMNS}, user_agent" if agent else SESSION_COLUMNS
        op.execute(
            f"INSERT INTO {table} ({owner}, {columns}) SELECT account_id, {columns} "
            f"FROM sign_in_session WHERE kind = '{kind}' "
            f"AND account_id IN (SELECT id FROM {owner_table})"
        )
    for table, owner, owner_table, kind in LINKS:
        link_table(table, owner, owner_table)
        op.execute(
            f"INSERT INTO {table} ({owner}, {LINK_COLUMNS}) SELECT account_id, {LINK_COLUMNS} "
            f"FROM one_time_link WHERE kind = '{kind}' "
            f"AND account_id IN (SELECT id FROM {owner_table}) ORDER BY id"
        )
    op.drop_index("ix_one_time_link_kind_account_id", "one_time_link")
    drop_table("one_time_link")
    op.drop_index("ix_sign_in_session_kind_account_id", "sign_in_session")
    drop_table("sign_in_session")
