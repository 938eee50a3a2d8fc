"""attachments say why their content was not kept (configured size and type limits)

Attachments imported before this revision kept at most their first MiB: those that were cut
are marked as withheld, since a partial copy is not the document the customer sent.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachment") as batch:
        batch.add_column(sa.Column("withheld", sa.Text(), nullable=True))
    op.execute("UPDATE attachment SET withheld = 'only part of it was kept (imported before "
               "the desk kept whole attachments)', content = NULL WHERE truncated")


def downgrade() -> None:
    with op.batch_alter_table("attachment",
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("withheld")
