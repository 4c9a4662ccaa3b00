"""integration with the pickup side: activation, link errors, invited address, sync jobs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("integration_activated_at", server.core.db.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "integration_error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
            )
        )
    with op.batch_alter_table("guardian", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("invited_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )
    op.create_table(
        "sync_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("started_at", server.core.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", server.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_job_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_job_organization_id"))
    op.drop_table("sync_job")
    with op.batch_alter_table("guardian", schema=None) as batch_op:
        batch_op.drop_column("invited_email")
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.drop_column("integration_error")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("integration_activated_at")
