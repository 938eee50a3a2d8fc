"""PostgreSQL search: one view says what a customer's search row holds; word starts indexed

``customer_search_source`` gives the search row of every live customer (erased customers are
left out). The per-customer refresh that the triggers run reads it for one customer (the
planner pushes the id into the e-mail aggregate), and a bulk rebuild fills the whole index from
it in one statement instead of calling the refresh once per customer, which made demo data on
PostgreSQL build its index row by row. SQLite already has its view of the same name.

``doc`` and ``name_key`` (folded, revision 0010) now end with a second line holding the same
words with every run of other characters turned into one space, after a leading space. A short
token then matches the start of a word as ``LIKE '% jo%'``, which a trigram index answers (it
indexes word starts), instead of a ``regexp_replace`` over every row (seconds on a million
customers when nothing matched). A token never contains white space, so it matches that second
line only where it also matches the first: substring results are unchanged. ``name_key`` gets
a trigram index of its own, for the pass that lists people first.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "customer_id, name, emails, company, phone, doc, name_key"


def _words(column: str) -> str:
    return f"{column} || E'\\n ' || regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g')"


def _refresh(source: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION customer_search_refresh(cid integer) RETURNS void
    LANGUAGE sql AS $$
        DELETE FROM customer_search WHERE customer_id = cid;
        INSERT INTO customer_search ({COLUMNS})
        {source};
    $$
    """


PG_UP = [
    f"""
    CREATE VIEW customer_search_source AS
    SELECT customer_id, name, emails, company, phone,
           {_words("doc")} AS doc, {_words("name_key")} AS name_key
    FROM (
        SELECT c.id AS customer_id, c.name, e.emails, c.company, c.phone,
               helpdesk_fold(concat_ws(' ', c.name, e.emails, c.company, c.phone)) AS doc,
               helpdesk_fold(c.name) AS name_key
        FROM customer c
        LEFT JOIN (
            SELECT customer_id, string_agg(address, ' ' ORDER BY is_primary DESC, id) AS emails
            FROM customer_email GROUP BY customer_id
        ) e ON e.customer_id = c.id
        WHERE c.erased_at IS NULL
    ) s
    """,
    _refresh(f"SELECT {COLUMNS} FROM customer_search_source WHERE customer_id = cid"),
    "DROP INDEX ix_customer_search_doc",
    "TRUNCATE customer_search",
    f"INSERT INTO customer_search ({COLUMNS}) SELECT {COLUMNS} FROM customer_search_source",
    "CREATE INDEX ix_customer_search_doc ON customer_search USING gin (doc gin_trgm_ops)",
    "CREATE INDEX ix_customer_search_name ON customer_search USING gin (name_key gin_trgm_ops)",
]

#: The refresh as revision 0010 wrote it (no view, one line per document).
PG_DOWN = [
    _refresh("""SELECT c.id, c.name, e.emails, c.company, c.phone,
               helpdesk_fold(concat_ws(' ', c.name, e.emails, c.company, c.phone)),
               helpdesk_fold(c.name)
        FROM customer c
        LEFT JOIN LATERAL (
            SELECT string_agg(address, ' ' ORDER BY is_primary DESC, id) AS emails
            FROM customer_email WHERE customer_id = c.id
        ) e ON true
        WHERE c.id = cid AND c.erased_at IS NULL"""),
    "DROP INDEX ix_customer_search_name",
    "DROP VIEW customer_search_source",
    "SELECT customer_search_refresh(id) FROM customer",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for stmt in PG_UP:
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for stmt in PG_DOWN:
            op.execute(stmt)
