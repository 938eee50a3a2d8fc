"""messages keep their Cc addresses (personal data: erasure blanks them)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("cc_address", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message",
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("cc_address")
