"""Web Push: the browsers that asked to be told of a pickup with the phone locked; each row
goes with its guardian and with the sign-in it was made under (revision 0012, 2026-12-05)."""

import sqlalchemy as sa
from alembic import op

from migrations.columns import drop_table, flag, index, integer, moment, text, token

revision, down_revision = "0012", "0011"


def upgrade() -> None:
    op.create_table(
        "push_subscription",
        integer(),
        integer("guardian_id"),
        token("session_hash"),
        text("endpoint", 1000),
        text("p256dh", 100),
        text("auth", 40),
        text("locale", 8),
        flag("preparing"),
        moment("created_at"),
        sa.ForeignKeyConstraint(["guardian_id"], ["guardian.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["session_hash"], ["sign_in_session.token_hash"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint"),
    )
    index("push_subscription", "guardian_id", "session_hash")


def downgrade() -> None:
    drop_table("push_subscription", "guardian_id", "session_hash")
