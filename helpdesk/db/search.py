"""Customer lookup: one interface; FTS5 on SQLite, pg_trgm on PostgreSQL.

Input is whatever an agent (or a pasted e-mail) puts in the lookup field, so it is treated as
data, never as query syntax: control characters are dropped, every token is quoted, and length is
capped. Tokens of three or more characters match any substring (name, any e-mail, company,
phone); shorter tokens match the start of a word, which is what someone typing "jo" expects.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import NamedTuple, Protocol

import sqlalchemy as sa

MAX_QUERY_CHARS = 256
#: Tokens at least this long match any substring; shorter ones match the start of a word.
SUBSTRING_MIN_CHARS = 3
MAX_TOKENS = 8
DEFAULT_LIMIT = 50


class SearchHit(NamedTuple):
    """One matching customer. A named tuple: built per hit on every keystroke, it must be cheap."""

    id: int
    name: str | None
    emails: str | None  # space-separated, primary first
    company: str | None
    phone: str | None

    @property
    def primary_email(self) -> str | None:
        return self.emails.split(" ", 1)[0] if self.emails else None


def tokens(text: str) -> list[str]:
    """Split raw input into search tokens, dropping control and format characters."""
    cleaned = "".join(
        ch if unicodedata.category(ch)[0] != "C" else " " for ch in text[:MAX_QUERY_CHARS]
    )
    return [t.casefold() for t in cleaned.split()][:MAX_TOKENS]


class CustomerSearch(Protocol):
    def search(self, conn: sa.Connection, text: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        """Customers matching every token of ``text``; never raises on odd input."""
        ...

    def rebuild(self, conn: sa.Connection) -> None:
        """Rebuild the whole index from the customer tables (after a bulk load)."""
        ...

    def bulk_load(self, conn: sa.Connection) -> AbstractContextManager[None]:
        """Suspend per-row index maintenance while the block loads customers, then rebuild the
        index once. Runs inside the caller's transaction: if the load fails, the rollback
        restores the triggers too."""
        ...


def _fts_phrase(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


#: The SQLite triggers that keep the index in step (created by migration 0002).
SQLITE_TRIGGER_TABLES = ("customer", "customer_email")


class SqliteSearch:
    """FTS5: a trigram table for substrings and a unicode61 prefix table for short input."""

    def search(self, conn: sa.Connection, text: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        toks = tokens(text)
        if not toks:
            return []
        long = [t for t in toks if len(t) >= SUBSTRING_MIN_CHARS]
        short = [t for t in toks if len(t) < SUBSTRING_MIN_CHARS]
        params: dict[str, object] = {"limit": limit}
        if long:
            params["long"] = " ".join(_fts_phrase(t) for t in long)
            sql = (
                "SELECT rowid, name, emails, company, phone FROM customer_fts "
                "WHERE customer_fts MATCH :long"
            )
            if short:
                params["short"] = " ".join(_fts_phrase(t) + "*" for t in short)
                sql += (
                    " AND rowid IN (SELECT rowid FROM customer_prefix"
                    " WHERE customer_prefix MATCH :short)"
                )
        else:
            params["short"] = " ".join(_fts_phrase(t) + "*" for t in short)
            sql = (
                "SELECT rowid, name, emails, company, phone FROM customer_prefix "
                "WHERE customer_prefix MATCH :short"
            )
        # Straight to the driver, in the caller's transaction with the same bound parameters:
        # this runs on every keystroke and SQLAlchemy's result machinery would cost more than
        # the FTS5 query itself.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            rows = cursor.execute(sql + " LIMIT :limit", params).fetchall()
        finally:
            cursor.close()
        return list(map(SearchHit._make, rows))

    def rebuild(self, conn: sa.Connection) -> None:
        for table in ("customer_fts", "customer_prefix"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
            conn.exec_driver_sql(
                f"INSERT INTO {table}(rowid, name, emails, company, phone) "
                "SELECT id, name, emails, company, phone FROM customer_search_source"
            )

    @contextmanager
    def bulk_load(self, conn: sa.Connection) -> Iterator[None]:
        # The triggers are recreated from the DDL SQLite stored for them, so their definition
        # stays in one place (the migration) and cannot drift from what the database runs.
        marks = ", ".join("?" for _ in SQLITE_TRIGGER_TABLES)
        triggers = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            f"AND tbl_name IN ({marks})", SQLITE_TRIGGER_TABLES,
        ).all()
        for name, _ in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        yield
        for _, ddl in triggers:
            conn.exec_driver_sql(ddl)
        self.rebuild(conn)


def _like_escape(token: str) -> str:
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


#: The PostgreSQL triggers that keep the index in step (created by migration 0002).
PG_TRIGGERS = (
    ("customer", "customer_search_aiu"),
    ("customer_email", "customer_email_search_aiud"),
)


class PostgresSearch:
    """pg_trgm: a GIN trigram index over one lower-cased document per customer."""

    def search(self, conn: sa.Connection, text: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        toks = [t.replace("\x00", "") for t in tokens(text)]
        toks = [t for t in toks if t]
        if not toks:
            return []
        clauses = []
        params: dict[str, object] = {"limit": limit}
        for i, tok in enumerate(toks):
            params[f"t{i}"] = _like_escape(tok)
            if len(tok) >= SUBSTRING_MIN_CHARS:
                clauses.append(f"doc LIKE '%' || :t{i} || '%' ESCAPE '\\'")
            else:  # word start: beginning of the document or after a non-alphanumeric
                clauses.append(
                    f"(doc LIKE :t{i} || '%' ESCAPE '\\' "
                    f"OR regexp_replace(doc, '[^[:alnum:]]+', ' ', 'g') "
                    f"LIKE '%' || ' ' || :t{i} || '%' ESCAPE '\\')"
                )
        sql = (
            "SELECT customer_id, name, emails, company, phone FROM customer_search WHERE "
            + " AND ".join(clauses)
            + " ORDER BY customer_id LIMIT :limit"
        )
        return [SearchHit(*row) for row in conn.execute(sa.text(sql), params)]

    def rebuild(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql("TRUNCATE customer_search")
        conn.exec_driver_sql("SELECT customer_search_refresh(id) FROM customer")

    @contextmanager
    def bulk_load(self, conn: sa.Connection) -> Iterator[None]:
        # DISABLE TRIGGER is transactional in PostgreSQL; only the index triggers are touched.
        for table, trigger in PG_TRIGGERS:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        yield
        for table, trigger in PG_TRIGGERS:
            conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        self.rebuild(conn)


def for_dialect(name: str) -> CustomerSearch:
    if name == "sqlite":
        return SqliteSearch()
    if name == "postgresql":
        return PostgresSearch()
    raise ValueError(f"no customer search for {name}")
