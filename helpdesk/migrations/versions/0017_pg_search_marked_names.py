"""PostgreSQL search: the names that have a mark (apostrophe, hyphen, dot ...) get a trigram
index of their own

Input with such a mark (a pasted address above all: "e.bjorkl", "91@ex") is part of a name only
where the name has a mark too. The trigram index sees only the letters and digits around a
mark, so for "e.bjorkl" every "Bjorklund" with a first name ending in "e" was a candidate, read
from the table and refused: tens of thousands at a million customers, a tenth of a second or
more on every keystroke, and all for the names pass, which finds nothing. This index holds only
the names with a mark (one in six in the demo data), and the names pass asks it for such input.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from helpdesk.db.search import PG_MARKED_NAME

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_customer_search_name_marked ON customer_search "
                    f"USING gin (name_key gin_trgm_ops) WHERE {PG_MARKED_NAME}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_customer_search_name_marked")
