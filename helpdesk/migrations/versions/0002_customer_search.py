"""customer search index: FTS5 (trigram + word prefix) on SQLite, pg_trgm on PostgreSQL

The index is kept in step with customer and customer_email by triggers, so every write path
(services, bulk loads, erasure) updates or removes it without having to remember to.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    # What the index holds for one customer; erased customers are left out entirely.
    """
    CREATE VIEW customer_search_source AS
    SELECT c.id AS id, c.name AS name,
           (SELECT group_concat(address, ' ') FROM (
               SELECT e.address FROM customer_email e
               WHERE e.customer_id = c.id ORDER BY e.is_primary DESC, e.id)) AS emails,
           c.company AS company, c.phone AS phone
    FROM customer c WHERE c.erased_at IS NULL
    """,
    # Any substring of three or more characters.
    "CREATE VIRTUAL TABLE customer_fts USING fts5("
    "name, emails, company, phone, tokenize='trigram')",
    # Word prefixes of one or two characters (the trigram index cannot answer those).
    "CREATE VIRTUAL TABLE customer_prefix USING fts5("
    "name, emails, company, phone, tokenize='unicode61 remove_diacritics 2', "
    "prefix='1 2', detail='none')",
]


def _sqlite_refresh(customer: str) -> str:
    return f"""
        DELETE FROM customer_fts WHERE rowid = {customer};
        DELETE FROM customer_prefix WHERE rowid = {customer};
        INSERT INTO customer_fts(rowid, name, emails, company, phone)
            SELECT id, name, emails, company, phone FROM customer_search_source
            WHERE id = {customer};
        INSERT INTO customer_prefix(rowid, name, emails, company, phone)
            SELECT id, name, emails, company, phone FROM customer_search_source
            WHERE id = {customer};
    """


SQLITE_TRIGGERS = {
    "customer_search_ai": f"AFTER INSERT ON customer BEGIN {_sqlite_refresh('new.id')} END",
    "customer_search_au": "AFTER UPDATE OF name, company, phone, erased_at ON customer "
    f"BEGIN {_sqlite_refresh('new.id')} END",
    "customer_search_ad": "AFTER DELETE ON customer BEGIN "
    "DELETE FROM customer_fts WHERE rowid = old.id; "
    "DELETE FROM customer_prefix WHERE rowid = old.id; END",
    "customer_email_search_ai": "AFTER INSERT ON customer_email "
    f"BEGIN {_sqlite_refresh('new.customer_id')} END",
    "customer_email_search_au": "AFTER UPDATE ON customer_email "
    f"BEGIN {_sqlite_refresh('old.customer_id')} {_sqlite_refresh('new.customer_id')} END",
    "customer_email_search_ad": "AFTER DELETE ON customer_email "
    f"BEGIN {_sqlite_refresh('old.customer_id')} END",
}

PG_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE TABLE customer_search (
        customer_id integer PRIMARY KEY REFERENCES customer(id) ON DELETE CASCADE,
        name text, emails text, company text, phone text,
        doc text NOT NULL
    )
    """,
    "CREATE INDEX ix_customer_search_doc ON customer_search USING gin (doc gin_trgm_ops)",
    """
    CREATE FUNCTION customer_search_refresh(cid integer) RETURNS void LANGUAGE sql AS $$
        DELETE FROM customer_search WHERE customer_id = cid;
        INSERT INTO customer_search (customer_id, name, emails, company, phone, doc)
        SELECT c.id, c.name, e.emails, c.company, c.phone,
               lower(concat_ws(' ', c.name, e.emails, c.company, c.phone))
        FROM customer c
        LEFT JOIN LATERAL (
            SELECT string_agg(address, ' ' ORDER BY is_primary DESC, id) AS emails
            FROM customer_email WHERE customer_id = c.id
        ) e ON true
        WHERE c.id = cid AND c.erased_at IS NULL;
    $$
    """,
    """
    CREATE FUNCTION customer_search_customer_trg() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM customer_search_refresh(NEW.id);
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION customer_search_email_trg() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM customer_search_refresh(OLD.customer_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            PERFORM customer_search_refresh(NEW.customer_id);
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER customer_search_aiu AFTER INSERT OR UPDATE OF name, company, phone, erased_at "
    "ON customer FOR EACH ROW EXECUTE FUNCTION customer_search_customer_trg()",
    "CREATE TRIGGER customer_email_search_aiud AFTER INSERT OR UPDATE OR DELETE "
    "ON customer_email FOR EACH ROW EXECUTE FUNCTION customer_search_email_trg()",
]

PG_DOWN = [
    "DROP TRIGGER IF EXISTS customer_email_search_aiud ON customer_email",
    "DROP TRIGGER IF EXISTS customer_search_aiu ON customer",
    "DROP FUNCTION IF EXISTS customer_search_email_trg()",
    "DROP FUNCTION IF EXISTS customer_search_customer_trg()",
    "DROP FUNCTION IF EXISTS customer_search_refresh(integer)",
    "DROP TABLE IF EXISTS customer_search",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for stmt in SQLITE_UP:
            op.execute(stmt)
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        for table in ("customer_fts", "customer_prefix"):
            op.execute(
                f"INSERT INTO {table}(rowid, name, emails, company, phone) "
                "SELECT id, name, emails, company, phone FROM customer_search_source"
            )
    elif dialect == "postgresql":
        for stmt in PG_UP:
            op.execute(stmt)
        op.execute("SELECT customer_search_refresh(id) FROM customer")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for stmt in ("DROP TABLE customer_prefix", "DROP TABLE customer_fts",
                     "DROP VIEW customer_search_source"):
            op.execute(stmt)
    elif dialect == "postgresql":
        for stmt in PG_DOWN:
            op.execute(stmt)
