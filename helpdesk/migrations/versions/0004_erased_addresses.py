"""erased addresses for the importer; sender hash on intake items

Intake needs to know, inside its own transaction and under the lock it shares with erasure,
whether a letter's sender was erased and when: ``erasure_address`` holds each erased address's
keyed hash with the request time, filled from the ledger for erasures made before this
revision. ``intake_item.sender_hash`` lets erasure find quarantined mail by the sender's keyed
hash even where the raw bytes spell the address differently.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasure_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("erasure_id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["erasure_id"], ["erasure.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("erasure_id", "email_hash"),
    )
    op.create_index("ix_erasure_address_email_hash", "erasure_address", ["email_hash"])
    with op.batch_alter_table("intake_item") as batch:
        batch.add_column(sa.Column("sender_hash", sa.String(length=64), nullable=True))
        batch.create_index("ix_intake_item_sender_hash", ["sender_hash"])
    elements = ("json_each(e.email_hashes) AS j" if op.get_bind().dialect.name == "sqlite"
                else "json_array_elements_text(e.email_hashes) AS j(value)")
    op.execute("INSERT INTO erasure_address (erasure_id, email_hash, requested_at) "
               f"SELECT DISTINCT e.id, j.value, e.requested_at FROM erasure e, {elements}")


def downgrade() -> None:
    with op.batch_alter_table("intake_item") as batch:
        batch.drop_index("ix_intake_item_sender_hash")
        batch.drop_column("sender_hash")
    op.drop_index("ix_erasure_address_email_hash", table_name="erasure_address")
    op.drop_table("erasure_address")
