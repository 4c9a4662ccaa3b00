"""Centre portal sessions (revision 0005, 2026-11-28)."""

from migrations.columns import drop_table, session_table

revision, down_revision = "0005", "0004"


def upgrade() -> None:
    session_table("center_session", "center_account_id", "center_account")


def downgrade() -> None:
    drop_table("center_session", "center_account_id")
