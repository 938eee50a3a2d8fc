"""suppression check through a function on PostgreSQL

In team mode agents may add to the suppression list but not read it (a list of who asked never
to be contacted again, which with the key and the customer table gives back addresses). Whether
one address is suppressed is answered by ``helpdesk_suppressed``, which runs with the owner's
rights; ``helpdesk team setup`` grants it to the agents' group.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION helpdesk_suppressed(digest text, channels text[]) RETURNS boolean
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
                SELECT EXISTS (SELECT 1 FROM suppression_entry
                               WHERE email_hash = digest AND channel = ANY (channels))
            $$
        """)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS helpdesk_suppressed(text, text[])")
