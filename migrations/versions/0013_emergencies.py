"""Emergency closures and evacuation roll calls: the emergency per installation, its roll
(one line per child present at the start), the roll's timeline, the release log's link to
the emergency a release belongs to, and the director's setting that lets reception start
one (revision 0013, 2026-11-30). Additive: old workers ignore the new tables and columns."""

import sqlalchemy as sa
from alembic import op

from migrations.columns import (
    drop_index,
    drop_table,
    flag,
    index,
    integer,
    moment,
    references,
    text,
)

revision, down_revision = "0013", "0012"


def upgrade() -> None:
    op.create_table(
        "emergency",
        integer(),
        integer("organization_id"),
        integer("installation_id"),
        text("batch", 32),
        text("kind", 16),
        flag("drill"),
        text("message", 1000),
        text("assembly_point", 300),
        moment("started_at"),
        integer("started_by_id", nullable=True),
        text("started_by_name", 200),
        moment("ended_at", nullable=True),
        integer("ended_by_id", nullable=True),
        text("ended_by_name", 200),
        integer("families_told"),
        *references(organization_id="organization", installation_id="installation"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("emergency", "organization_id", "batch")
    index("emergency", "installation_id")
    op.create_index(
        "uq_emergency_active_installation",
        "emergency",
        ["installation_id"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "roll_line",
        integer(),
        integer("emergency_id"),
        integer("child_id"),
        integer("group_id"),
        text("status", 16),
        moment("changed_at", nullable=True),
        *references(emergency_id="emergency", child_id="child", group_id="child_group"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("emergency_id", "child_id"),
    )
    index("roll_line", "emergency_id")
    op.create_table(
        "roll_event",
        integer(),
        integer("emergency_id"),
        integer("child_id"),
        text("from_status", 16),
        text("to_status", 16),
        moment("at"),
        text("actor_kind", 16),
        integer("actor_id", nullable=True),
        text("actor_name", 200),
        text("device", 300),
        integer("handed_to_id", nullable=True),
        text("handed_to_name", 200),
        integer("undo_of", nullable=True),
        *references(emergency_id="emergency", child_id="child", handed_to_id="guardian"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("roll_event", "emergency_id")
    with op.batch_alter_table("pickup_event", schema=None) as batch_op:
        batch_op.add_column(integer("emergency_id", nullable=True))
        batch_op.create_foreign_key(
            "fk_pickup_event_emergency", "emergency", ["emergency_id"], ["id"]
        )
    # In place, not by copy (a batch would copy organization, which every table refers to,
    # and SQLite refuses to drop it under rows that point at it).
    op.add_column(
        "organization",
        sa.Column(
            "reception_starts_emergencies",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
        ),
    )


def downgrade() -> None:
    # In place, not by copy: every other table's foreign keys point at organization, and
    # SQLite (3.35+) drops a plain column in place (as 0011 does).
    op.drop_column("organization", "reception_starts_emergencies")
    with op.batch_alter_table("pickup_event", schema=None) as batch_op:
        batch_op.drop_constraint("fk_pickup_event_emergency", type_="foreignkey")
        batch_op.drop_column("emergency_id")
    drop_table("roll_event", "emergency_id")
    drop_table("roll_line", "emergency_id")
    op.drop_index("uq_emergency_active_installation", "emergency")
    drop_index("emergency", "organization_id", "batch", "installation_id")
    op.drop_table("emergency")
