"""Privacy under Québec's Law 25: the person in charge and retention periods, consents, the
export log, rectification requests, the incident register; when a family left and was erased
(revision 0011, 2026-12-06)."""

import sqlalchemy as sa
from alembic import op

from migrations.columns import drop_table, flag, index, integer, moment, references, text

revision, down_revision = "0011", "0009"

FAMILY_TABLES = ("child", "guardian")


def upgrade() -> None:
    op.create_table(
        "privacy_incident",
        integer(),
        integer("organization_id"),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("discovered_on", sa.Date(), nullable=False),
        text("description", 4000),
        text("people_concerned", 2000),
        flag("serious_risk"),
        text("risk_assessment", 4000),
        text("notified", 2000),
        sa.Column("notified_on", sa.Date(), nullable=True),
        text("recorded_by_name", 200),
        moment("created_at"),
        *references(organization_id="organization"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("privacy_incident", "organization_id")
    op.create_table(
        "privacy_settings",
        integer("organization_id"),
        text("officer_name", 200),
        text("officer_title", 200),
        text("officer_email", 254),
        *(
            integer(f"{kind}_days")
            for kind in (
                "release_log",
                "consents",
                "exports",
                "messages",
                "sessions",
                "departed",
                "requests",
            )
        ),
        *references(organization_id="organization"),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_table(
        "consent",
        integer(),
        integer("organization_id"),
        integer("guardian_id"),
        text("purpose", 32),
        text("text_version", 32),
        moment("given_at"),
        moment("withdrawn_at", nullable=True),
        *references(guardian_id="guardian", organization_id="organization"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("consent", "guardian_id", "organization_id")
    op.create_table(
        "data_export",
        integer(),
        integer("organization_id"),
        integer("guardian_id"),
        text("subject_name", 200),
        text("requested_by_kind", 16),
        integer("requested_by_id"),
        text("requested_by_name", 200),
        moment("at"),
        *references(guardian_id="guardian", organization_id="organization"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("data_export", "guardian_id", "organization_id")
    op.create_table(
        "rectification_request",
        integer(),
        integer("organization_id"),
        integer("guardian_id"),
        integer("child_id", nullable=True),
        text("field", 16),
        text("current_value", 254),
        text("requested_value", 254),
        moment("created_at"),
        moment("resolved_at", nullable=True),
        text("resolved_by_name", 200),
        *references(child_id="child", guardian_id="guardian", organization_id="organization"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("rectification_request", "guardian_id", "organization_id")
    for table in FAMILY_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(moment("left_at", nullable=True))
            batch_op.add_column(moment("erased_at", nullable=True))


def downgrade() -> None:
    # Not by copy: other tables' foreign keys point at these two, and SQLite (3.35+) drops a
    # plain column in place.
    for table in FAMILY_TABLES:
        op.drop_column(table, "erased_at")
        op.drop_column(table, "left_at")
    drop_table("rectification_request", "organization_id", "guardian_id")
    drop_table("data_export", "organization_id", "guardian_id")
    drop_table("consent", "organization_id", "guardian_id")
    op.drop_table("privacy_settings")
    drop_table("privacy_incident", "organization_id")
