"""correction history keeps the old and new values (personal data, blanked by erasure)

Rows written before this revision have no values: they stay as they are (the field, who, when
and the case are known; what it was is not).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A literal default lets SQLite add the columns in place; an expression default
    # (sa.false()) makes batch mode rebuild the table and lose AUTOINCREMENT (0007).
    with op.batch_alter_table("field_change") as batch:
        batch.add_column(sa.Column("old_value", sa.Text(), nullable=True))
        batch.add_column(sa.Column("new_value", sa.Text(), nullable=True))
        batch.add_column(sa.Column("values_erased", sa.Boolean(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("field_change",
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("values_erased")
        batch.drop_column("new_value")
        batch.drop_column("old_value")
