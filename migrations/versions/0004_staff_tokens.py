"""Staff invitation links (revision 0004, 2026-11-28)."""

from migrations.columns import drop_table, link_table

revision, down_revision = "0004", "0003"


def upgrade() -> None:
    link_table("staff_token", "staff_user_id", "staff_user")


def downgrade() -> None:
    drop_table("staff_token", "staff_user_id")
