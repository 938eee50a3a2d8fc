"""identity: the real account on every audit event, and desk-wide settings kept in the database

``audit_event.real_account`` is the operating-system account (SQLite) or the PostgreSQL session
role that really acted, beside ``actor_id`` (the agent acted as). On PostgreSQL a trigger fills it
from ``session_user`` whatever the client sent, so a script cannot claim another account.

``desk_setting`` holds settings that weaken or strengthen security for every desk of the
database (acting as another agent): a supervisor changes them, audited, and no per-user file or
environment variable can replace them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_UP = [
    """
    CREATE FUNCTION helpdesk_audit_account() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.real_account := session_user;
        RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER audit_event_account BEFORE INSERT ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION helpdesk_audit_account()",
]
PG_DOWN = [
    "DROP TRIGGER IF EXISTS audit_event_account ON audit_event",
    "DROP FUNCTION IF EXISTS helpdesk_audit_account()",
]


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("real_account", sa.String(length=128), nullable=True))
    op.create_table(
        "desk_setting",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by_id"], ["agent.id"]),
        sa.PrimaryKeyConstraint("name"),
    )
    if op.get_context().dialect.name == "postgresql":
        for statement in PG_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in PG_DOWN:
            op.execute(statement)
    op.drop_table("desk_setting")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("real_account")
