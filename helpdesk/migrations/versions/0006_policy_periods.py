"""policy versions carry their promised periods and header lines; cases keep the rules' deadline

* ``policy_version.periods``: calendar days per case kind, confirmed when a version is added.
  Versions loaded before this revision get the periods the desk then applied to every version
  (30 days for requests, 90 for disputes), so the deadlines already computed stay true.
* ``policy_version.header_lines``: leading lines of the file that are not policy text.
* ``support_case.rule_due_at``: the deadline the rules set, which an override never moves.
  Filled from ``due_at``, or for overridden cases from the policy's promise (the legal rule
  that may have been stricter is not recorded on those rows).
* ``consent_event.policy_assigned_at``: when a version loaded later was assigned to the event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helpdesk.policytext import header_lines

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: What the desk applied to every version before periods were read from the text.
_EARLIER_PERIODS = {"access": 30, "correction": 30, "deletion": 30, "objection": 30,
                    "under_13": 30, "posting_removal": 30, "dispute": 90}


def upgrade() -> None:
    with op.batch_alter_table("policy_version") as batch:
        batch.add_column(sa.Column("periods", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("header_lines", sa.Integer(), nullable=False,
                                   server_default="0"))
    versions = sa.table("policy_version", sa.column("id", sa.Integer),
                        sa.column("text", sa.Text), sa.column("periods", sa.JSON),
                        sa.column("header_lines", sa.Integer))
    conn = op.get_bind()
    for row in conn.execute(sa.select(versions.c.id, versions.c.text)).all():
        conn.execute(versions.update().where(versions.c.id == row.id).values(
            periods=_EARLIER_PERIODS, header_lines=header_lines(row.text)))
    with op.batch_alter_table("policy_version") as batch:
        batch.alter_column("periods", existing_type=sa.JSON(), nullable=False)

    with op.batch_alter_table("support_case") as batch:
        batch.add_column(sa.Column("rule_due_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE support_case SET rule_due_at = CASE WHEN override_due_at IS NULL THEN due_at "
        "ELSE COALESCE(policy_due_at, due_at) END"
    )
    with op.batch_alter_table("support_case") as batch:
        batch.alter_column("rule_due_at", existing_type=sa.DateTime(timezone=True), nullable=False)

    with op.batch_alter_table("consent_event") as batch:
        batch.add_column(sa.Column("policy_assigned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_event") as batch:
        batch.drop_column("policy_assigned_at")
    with op.batch_alter_table("support_case") as batch:
        batch.drop_column("rule_due_at")
    with op.batch_alter_table("policy_version") as batch:
        batch.drop_column("header_lines")
        batch.drop_column("periods")
