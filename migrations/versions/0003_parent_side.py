"""Parent side: accounts, sessions, one-time links, GPS trips, photos, outbox, rate limits
(revision 0003, 2026-11-28)."""

import sqlalchemy as sa
from alembic import op

from migrations.columns import (
    drop_table,
    index,
    integer,
    link_table,
    moment,
    number,
    references,
    session_table,
    text,
)

revision, down_revision = "0003", "0002"


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        integer(),
        text("to", 254),
        text("subject", 300),
        text("body"),
        moment("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("outbox_message", "to")

    op.create_table(
        "rate_event",
        integer(),
        text("key", 200),
        moment("at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rate_event_key_at", "rate_event", ["key", "at"])

    link_table("account_token", "guardian_id", "guardian")
    session_table("guardian_session", "guardian_id", "guardian", text("user_agent", 300))

    op.create_table(
        "trip_position",
        integer(),
        integer("pickup_id"),
        moment("at"),
        number("latitude"),
        number("longitude"),
        number("accuracy_m", nullable=True),
        *references(pickup_id="pickup"),
        sa.PrimaryKeyConstraint("id"),
    )
    index("trip_position", "pickup_id")

    with op.batch_alter_table("child", schema=None) as batch_op:
        batch_op.add_column(text("photo", 64, nullable=True))
        batch_op.add_column(text("pending_photo", 64, nullable=True))
        batch_op.drop_column("photo_pending")

    with op.batch_alter_table("guardian", schema=None) as batch_op:
        batch_op.add_column(text("kind", 16, server_default="guardian"))
        batch_op.add_column(integer("invited_by_id", nullable=True))
        batch_op.add_column(text("photo", 64, nullable=True))
        batch_op.add_column(text("pending_photo", 64, nullable=True))
        batch_op.create_foreign_key("fk_guardian_invited_by", "guardian", ["invited_by_id"], ["id"])
        batch_op.drop_column("photo_pending")


def downgrade() -> None:
    def photo_pending() -> sa.Column:
        return sa.Column("photo_pending", sa.BOOLEAN(), nullable=False, server_default=sa.false())

    with op.batch_alter_table("guardian", schema=None) as batch_op:
        batch_op.add_column(photo_pending())
        batch_op.drop_constraint("fk_guardian_invited_by", type_="foreignkey")
        for column in ("pending_photo", "photo", "invited_by_id", "kind"):
            batch_op.drop_column(column)

    with op.batch_alter_table("child", schema=None) as batch_op:
        batch_op.add_column(photo_pending())
        batch_op.drop_column("pending_photo")
        batch_op.drop_column("photo")

    drop_table("trip_position", "pickup_id")
    drop_table("guardian_session", "guardian_id")
    drop_table("account_token", "guardian_id")
    op.drop_index("ix_rate_event_key_at", "rate_event")
    drop_table("rate_event")
    drop_table("outbox_message", "to")
