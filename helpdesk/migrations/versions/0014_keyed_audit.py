"""keyed audit chain: chain positions, and the record of the database's secret key

Events get ``seq``, their position in the chain (filled in id order for the events already
there). ``desk_key`` gets its single row, describing the chain written so far without a key
(``legacy_count`` events ending in ``legacy_head``); the first desk that opens the database
afterwards records the key's fingerprint and seals that boundary with the key (see
helpdesk/services/keys.py). Events written before stay as they were: they are checked with the
old unkeyed function, and the first keyed event links to the last of them, so changing them
afterwards still breaks the keyed chain.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NOT NULL with a default, so neither backend has to rebuild the (possibly large) table
    op.add_column("audit_event", sa.Column("seq", sa.Integer(), nullable=False,
                                           server_default=sa.text("0")))
    op.execute(
        "UPDATE audit_event SET seq = numbered.n FROM "
        "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_event) AS numbered "
        "WHERE audit_event.id = numbered.id"
    )
    op.create_index("uq_audit_event_seq", "audit_event", ["seq"], unique=True)
    op.create_table(
        "desk_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("legacy_count", sa.Integer(), nullable=False),
        sa.Column("legacy_head", sa.String(length=64), nullable=True),
        sa.Column("seal", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_desk_key_single_row"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,  # like every table with an id (0007), though it has one row
    )
    op.execute(
        "INSERT INTO desk_key (id, legacy_count, legacy_head) SELECT 1, "
        "(SELECT count(*) FROM audit_event), "
        "(SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1)"
    )


def downgrade() -> None:
    op.drop_table("desk_key")
    op.drop_index("uq_audit_event_seq", table_name="audit_event")
    op.drop_column("audit_event", "seq")  # in place: a rebuild would lose AUTOINCREMENT
