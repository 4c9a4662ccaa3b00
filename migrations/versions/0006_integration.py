"""Integration with the pickup side: activation, link errors, invited address, sync jobs
(revision 0006, 2026-11-28)."""

import sqlalchemy as sa
from alembic import op

from migrations.columns import drop_table, index, integer, moment, references, text

revision, down_revision = "0006", "0005"


def _added() -> tuple[tuple[str, sa.Column], ...]:
    """(table, the column it gains)"""
    return (
        ("organization", moment("integration_activated_at", nullable=True)),
        ("installation", text("integration_error", 300, nullable=True)),
        ("guardian", text("invited_email", 254, nullable=True)),
    )


def upgrade() -> None:
    for table, column in _added():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(column)
    op.create_table(
        "sync_job",
        integer(),
        integer("organization_id"),
        text("status", 16),
        integer("total"),
        integer("done"),
        text("summary"),
        moment("started_at"),
        moment("finished_at", nullable=True),
        *references(organization_id="organization"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("sync_job", "organization_id")


def downgrade() -> None:
    drop_table("sync_job", "organization_id")
    for table, column in reversed(_added()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column.name)
