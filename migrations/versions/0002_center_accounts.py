"""Centre accounts (revision 0002, 2026-11-28)."""

import sqlalchemy as sa
from alembic import op

from migrations.columns import integer, moment, references, text

revision, down_revision = "0002", "0001"


def upgrade() -> None:
    op.create_table(
        "center_account",
        integer(),
        integer("installation_id"),
        text("email", 254),
        text("password_hash", 200),
        moment("created_at"),
        *references(installation_id="installation"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("installation_id"),
    )


def downgrade() -> None:
    op.drop_table("center_account")
