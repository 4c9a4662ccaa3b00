"""Initial schema (revision 0001, 2026-11-28)."""

import sqlalchemy as sa
from alembic import op

from migrations.columns import (
    drop_index,
    drop_table,
    flag,
    index,
    integer,
    moment,
    number,
    references,
    session_table,
    text,
    token,
)

revision, down_revision = "0001", None

LIVE = "status IN ('scheduled','tracking','announced','called','ready')"


def upgrade() -> None:
    op.create_table(
        "organization",
        integer(),
        text("name", 200),
        text("timezone", 64),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "api_token",
        integer(),
        integer("organization_id"),
        text("name", 200),
        token(),
        moment("created_at"),
        moment("last_used_at", nullable=True),
        moment("revoked_at", nullable=True),
        *references(organization_id="organization"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    index("api_token", "organization_id")

    op.create_table(
        "guardian",
        integer(),
        integer("organization_id"),
        text("external_id", 100),
        text("first_name", 100),
        text("last_name", 100),
        text("email", 254),
        text("account_state", 16),
        text("password_hash", 200, nullable=True),
        flag("photo_pending"),
        *references(organization_id="organization"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "external_id"),
    )
    index("guardian", "email", "organization_id")

    op.create_table(
        "installation",
        integer(),
        integer("organization_id"),
        text("external_id", 100),
        text("name", 200),
        text("display_name", 200, nullable=True),
        number("latitude", nullable=True),
        number("longitude", nullable=True),
        text("timezone", 64),
        integer("preparation_minutes"),
        sa.Column("call_window_start", sa.Time(), nullable=False),
        sa.Column("call_window_end", sa.Time(), nullable=False),
        integer("event_seq"),
        *references(organization_id="organization"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "external_id"),
    )
    index("installation", "organization_id")

    op.create_table(
        "child_group",
        integer(),
        integer("installation_id"),
        text("external_id", 100),
        text("name", 200),
        *references(installation_id="installation"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("installation_id", "external_id"),
    )
    index("child_group", "installation_id")

    op.create_table(
        "child",
        integer(),
        integer("organization_id"),
        integer("installation_id"),
        integer("group_id"),
        text("external_id", 100),
        text("first_name", 100),
        text("last_name", 100),
        flag("agreement_active"),
        flag("pickup_enabled"),
        flag("photo_pending"),
        flag("active"),
        *references(
            group_id="child_group", installation_id="installation", organization_id="organization"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "external_id"),
    )
    index("child", "group_id", "installation_id", "organization_id")

    op.create_table(
        "display",
        integer(),
        integer("organization_id"),
        integer("installation_id"),
        integer("group_id", nullable=True),
        text("name", 200),
        token(),
        moment("created_at"),
        moment("revoked_at", nullable=True),
        *references(
            group_id="child_group", installation_id="installation", organization_id="organization"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    index("display", "organization_id")

    op.create_table(
        "staff_user",
        integer(),
        integer("organization_id"),
        text("email", 254),
        text("display_name", 200),
        text("password_hash", 200),
        text("role", 16),
        integer("installation_id", nullable=True),
        integer("home_group_id", nullable=True),
        flag("active"),
        moment("created_at"),
        *references(
            home_group_id="child_group",
            installation_id="installation",
            organization_id="organization",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    index("staff_user", "organization_id")

    op.create_table(
        "attendance",
        integer(),
        integer("child_id"),
        integer("installation_id"),
        sa.Column("day", sa.Date(), nullable=False),
        moment("checked_in_at"),
        moment("checked_out_at", nullable=True),
        *references(child_id="child", installation_id="installation"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("child_id", "day"),
    )
    index("attendance", "child_id", "installation_id")

    op.create_table(
        "childguardian",
        integer("child_id"),
        integer("guardian_id"),
        *references(child_id="child", guardian_id="guardian"),
        sa.PrimaryKeyConstraint("child_id", "guardian_id"),
    )
    index("childguardian", "guardian_id")

    op.create_table(
        "pickup",
        integer(),
        integer("organization_id"),
        integer("installation_id"),
        integer("child_id"),
        integer("guardian_id"),
        sa.Column("day", sa.Date(), nullable=False),
        text("mode", 8),
        text("status", 16),
        moment("eta", nullable=True),
        moment("announce_at", nullable=True),
        integer("gps_minutes", nullable=True),
        moment("created_at"),
        moment("announced_at", nullable=True),
        moment("updated_at"),
        *references(
            child_id="child",
            guardian_id="guardian",
            installation_id="installation",
            organization_id="organization",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    index("pickup", "guardian_id")
    op.create_index("ix_pickup_installation_day", "pickup", ["installation_id", "day"])
    index("pickup", "organization_id", "status")
    op.create_index(
        "uq_pickup_live_child",
        "pickup",
        ["child_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )

    session_table("staff_session", "user_id", "staff_user", text("user_agent", 300))

    op.create_table(
        "pickup_event",
        integer(),
        integer("pickup_id"),
        integer("installation_id"),
        text("from_status", 16, nullable=True),
        text("to_status", 16),
        moment("at"),
        text("actor_kind", 16),
        integer("actor_id", nullable=True),
        text("actor_name", 200),
        text("device", 300),
        *references(installation_id="installation", pickup_id="pickup"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("pickup_event", "installation_id", "pickup_id")


def downgrade() -> None:
    drop_table("pickup_event", "pickup_id", "installation_id")
    drop_table("staff_session", "user_id")
    op.drop_index(
        "uq_pickup_live_child",
        "pickup",
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    drop_index("pickup", "status", "organization_id")
    op.drop_index("ix_pickup_installation_day", "pickup")
    drop_table("pickup", "guardian_id")
    drop_table("childguardian", "guardian_id")
    drop_table("attendance", "installation_id", "child_id")
    drop_table("staff_user", "organization_id")
    drop_table("display", "organization_id")
    drop_table("child", "organization_id", "installation_id", "group_id")
    drop_table("child_group", "installation_id")
    drop_table("installation", "organization_id")
    drop_table("guardian", "organization_id", "email")
    drop_table("api_token", "organization_id")
    drop_table("organization")
