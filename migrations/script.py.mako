"""${message} (revision ${up_revision}, ${create_date.strftime("%Y-%m-%d")})."""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.db
${imports if imports else ""}
# migrations/columns.py has short forms of the usual columns, foreign keys and indexes.

revision, down_revision = ${repr(up_revision)}, ${repr(down_revision)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
