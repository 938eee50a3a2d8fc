"""the agents' inbox: one notice per recipient, read or not

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["agent.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["support_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notification_agent_at", "notification", ["agent_id", "at", "id"])
    op.create_index("ix_notification_key", "notification", ["key", "agent_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_key", table_name="notification")
    op.drop_index("ix_notification_agent_at", table_name="notification")
    op.drop_table("notification")
