"""undo and dismiss in the release log, the adult a child was handed to, overdue threshold

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("installation") as batch_op:
        batch_op.add_column(
            sa.Column("overdue_minutes", sa.Integer(), nullable=False, server_default="3")
        )
    with op.batch_alter_table("pickup") as batch_op:
        batch_op.add_column(
            sa.Column("dismiss_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
    with op.batch_alter_table("pickup_event") as batch_op:
        batch_op.add_column(sa.Column("handed_to_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "handed_to_name",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(sa.Column("undo_of", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_pickup_event_handed_to_id_guardian", "guardian", ["handed_to_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("pickup_event") as batch_op:
        batch_op.drop_constraint("fk_pickup_event_handed_to_id_guardian", type_="foreignkey")
        batch_op.drop_column("undo_of")
        batch_op.drop_column("reason")
        batch_op.drop_column("handed_to_name")
        batch_op.drop_column("handed_to_id")
    # Not by copy: other tables' foreign keys point at these two, and SQLite (3.35+) drops
    # a plain column in place.
    op.drop_column("pickup", "dismiss_reason")
    op.drop_column("installation", "overdue_minutes")
