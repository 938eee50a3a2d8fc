"""customer search compares folded text: accents, case and ae/oe/ue spellings do not matter

"Söhne" was not found by "Sohne" (the trigram index kept accents) and "Mueller" did not find
"Müller". The FTS5 tables (SQLite) and the search document (PostgreSQL) now hold the text as
:func:`helpdesk.db.search.fold` folds it; the text as written stays beside it for the results.
Names get an index of their own (SQLite: a trigram and a prefix table; PostgreSQL: the folded
name) so that people named so are listed before companies, at the cost of the names only.
SQLite calls the Python function (registered on every connection the desk opens);
PostgreSQL gets an SQL function built here from the same folding, letter by letter.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from helpdesk.db.search import FOLD_SQL, fold

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHOWN = ("name", "emails", "company", "phone")
FOLDED = ("f_name", "f_emails", "f_company", "f_phone")
TRIGGERS = ("customer_search_ai", "customer_search_au", "customer_search_ad",
            "customer_email_search_ai", "customer_email_search_au", "customer_email_search_ad")

_SOURCE = """
    SELECT c.id AS id, c.name AS name,
           (SELECT group_concat(address, ' ') FROM (
               SELECT e.address FROM customer_email e
               WHERE e.customer_id = c.id ORDER BY e.is_primary DESC, e.id)) AS emails,
           c.company AS company, c.phone AS phone
    FROM customer c WHERE c.erased_at IS NULL
"""


def _sqlite_objects(folded: bool) -> tuple[list[str], dict[str, str], list[tuple[str, str]]]:
    """The view, tables and triggers of the index: folded (this revision) or as 0002 made
    them; and the (table, columns) pairs filled from the view."""
    prefix_options = "tokenize='unicode61 remove_diacritics 2', prefix='1 2', detail='none'"
    if folded:
        view = ("CREATE VIEW customer_search_source AS SELECT id, name, emails, company, phone, "
                + ", ".join(f"{FOLD_SQL}({s}) AS {f}" for s, f in zip(SHOWN, FOLDED, strict=True))
                + f" FROM ({_SOURCE})")
        tables = [  # everything, as substrings and as word starts; then the names alone
            ("customer_fts", ", ".join(f"{s} UNINDEXED" for s in SHOWN) + ", "
             + ", ".join(FOLDED), "tokenize='trigram'", ", ".join((*SHOWN, *FOLDED))),
            ("customer_prefix", ", ".join(FOLDED), prefix_options, ", ".join(FOLDED)),
            ("customer_name_fts", "f_name", "tokenize='trigram'", "f_name"),
            ("customer_name_prefix", "f_name", prefix_options, "f_name"),
        ]
    else:
        view = f"CREATE VIEW customer_search_source AS {_SOURCE}"
        shown = ", ".join(SHOWN)
        tables = [("customer_fts", shown, "tokenize='trigram'", shown),
                  ("customer_prefix", shown, prefix_options, shown)]
    statements = [view] + [f"CREATE VIRTUAL TABLE {name} USING fts5({columns}, {options})"
                           for name, columns, options, _ in tables]
    filled = [(name, cols) for name, _, _, cols in tables]

    def refresh(customer: str) -> str:
        steps = [f"DELETE FROM {t} WHERE rowid = {customer};" for t, _ in filled]
        steps += [f"INSERT INTO {t}(rowid, {cols}) SELECT id, {cols} FROM "
                  f"customer_search_source WHERE id = {customer};" for t, cols in filled]
        return " ".join(steps)

    deleted = " ".join(f"DELETE FROM {t} WHERE rowid = old.id;" for t, _ in filled)
    triggers = {
        "customer_search_ai": f"AFTER INSERT ON customer BEGIN {refresh('new.id')} END",
        "customer_search_au": "AFTER UPDATE OF name, company, phone, erased_at ON customer "
                              f"BEGIN {refresh('new.id')} END",
        "customer_search_ad": f"AFTER DELETE ON customer BEGIN {deleted} END",
        "customer_email_search_ai": "AFTER INSERT ON customer_email "
                                    f"BEGIN {refresh('new.customer_id')} END",
        "customer_email_search_au": "AFTER UPDATE ON customer_email BEGIN "
                                    f"{refresh('old.customer_id')} "
                                    f"{refresh('new.customer_id')} END",
        "customer_email_search_ad": "AFTER DELETE ON customer_email "
                                    f"BEGIN {refresh('old.customer_id')} END",
    }
    return statements, triggers, filled


def _sqlite(folded: bool) -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in ("customer_name_prefix", "customer_name_fts", "customer_prefix",
                  "customer_fts"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP VIEW IF EXISTS customer_search_source")
    statements, triggers, filled = _sqlite_objects(folded)
    for stmt in statements:
        op.execute(stmt)
    for name, body in triggers.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    for table, cols in filled:
        op.execute(f"INSERT INTO {table}(rowid, {cols}) SELECT id, {cols} "
                   "FROM customer_search_source")


#: Letters PostgreSQL's fold spells out letter by letter: every Latin letter with a mark.
_LATIN = [chr(c) for r in ((0xC0, 0x250), (0x1E00, 0x1F00)) for c in range(*r)]


def _pg_fold_function() -> str:
    """``helpdesk_fold(text)`` in SQL, agreeing with the Python fold on Latin text: letters
    that fold to several (ß, æ ...) are replaced first, then the rest translated one to one,
    then the ae/oe/ue spellings reduced, as :func:`fold` does."""
    single = [(ch, fold(ch)) for ch in _LATIN if len(fold(ch)) == 1 and fold(ch) != ch]
    several = [(ch, fold(ch)) for ch in _LATIN if len(fold(ch)) > 1]
    expr = "lower($1)"
    for ch, spelled in several:
        expr = f"replace({expr}, '{ch}', '{spelled}')"
    source = "".join(ch for ch, _ in single)
    target = "".join(plain for _, plain in single)
    expr = f"translate({expr}, '{source}', '{target}')"
    for spelled, vowel in (("ae", "a"), ("oe", "o"), ("ue", "u")):
        expr = f"replace({expr}, '{spelled}', '{vowel}')"
    return (f"CREATE OR REPLACE FUNCTION {FOLD_SQL}(text) RETURNS text LANGUAGE sql "
            f"IMMUTABLE STRICT AS $$ SELECT {expr} $$")


def _pg_refresh(folded: bool) -> str:
    doc = "lower(concat_ws(' ', c.name, e.emails, c.company, c.phone))"
    if folded:
        doc = f"{FOLD_SQL}(concat_ws(' ', c.name, e.emails, c.company, c.phone))"
    key_column, key_value = (", name_key", f", {FOLD_SQL}(c.name)") if folded else ("", "")
    return f"""
    CREATE OR REPLACE FUNCTION customer_search_refresh(cid integer) RETURNS void
    LANGUAGE sql AS $$
        DELETE FROM customer_search WHERE customer_id = cid;
        INSERT INTO customer_search (customer_id, name, emails, company, phone, doc{key_column})
        SELECT c.id, c.name, e.emails, c.company, c.phone, {doc}{key_value}
        FROM customer c
        LEFT JOIN LATERAL (
            SELECT string_agg(address, ' ' ORDER BY is_primary DESC, id) AS emails
            FROM customer_email WHERE customer_id = c.id
        ) e ON true
        WHERE c.id = cid AND c.erased_at IS NULL;
    $$
    """


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite(folded=True)
    elif dialect == "postgresql":
        op.execute(_pg_fold_function())
        op.execute("ALTER TABLE customer_search ADD COLUMN name_key text")
        op.execute(_pg_refresh(folded=True))
        op.execute("SELECT customer_search_refresh(id) FROM customer")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite(folded=False)
    elif dialect == "postgresql":
        op.execute(_pg_refresh(folded=False))
        op.execute("ALTER TABLE customer_search DROP COLUMN name_key")
        op.execute("SELECT customer_search_refresh(id) FROM customer")
        op.execute(f"DROP FUNCTION {FOLD_SQL}(text)")
