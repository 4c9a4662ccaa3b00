"""Staff and centre account emails unique per organization, no longer across all of them
(revision 0007, 2026-12-02)."""

from alembic import op

revision, down_revision = "0007", "0006"

# SQLite's copies of the tables reflect the old constraints unnamed: name them to drop them.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique(table: str) -> str:
    """The name the first migrations' unnamed UNIQUE (email) has on this engine."""
    if op.get_bind().dialect.name == "postgresql":
        return f"{table}_email_key"
    return f"uq_{table}_email"


def upgrade() -> None:
    with op.batch_alter_table("staff_user", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(_old_unique("staff_user"), type_="unique")
        batch_op.create_unique_constraint(
            "uq_staff_user_organization_email", ["organization_id", "email"]
        )
        batch_op.create_index(batch_op.f("ix_staff_user_email"), ["email"], unique=False)
    with op.batch_alter_table("center_account", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(_old_unique("center_account"), type_="unique")
        batch_op.create_index(batch_op.f("ix_center_account_email"), ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("center_account", naming_convention=NAMING) as batch_op:
        batch_op.drop_index(batch_op.f("ix_center_account_email"))
        batch_op.create_unique_constraint(_old_unique("center_account"), ["email"])
    with op.batch_alter_table("staff_user", naming_convention=NAMING) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_user_email"))
        batch_op.drop_constraint("uq_staff_user_organization_email", type_="unique")
        batch_op.create_unique_constraint(_old_unique("staff_user"), ["email"])
