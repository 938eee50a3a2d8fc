"""Customer lookup: one interface, an FTS5 implementation for SQLite and a pg_trgm one for PostgreSQL.

Input is whatever an agent (or a pasted e-mail) puts in the lookup field, so it is treated as
data, never as query syntax: control characters are dropped, every token is quoted, and length is
capped. Tokens of three or more characters match any substring (name, any e-mail, company,
phone); shorter tokens match the start of a word, which is what someone typing "jo" expects.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

MAX_QUERY_CHARS = 256
MAX_TOKENS = 8
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class SearchHit:
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


def _fts_phrase(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


class SqliteSearch:
    """FTS5: a trigram table for substrings and a unicode61 prefix table for short input."""

    def search(self, conn: sa.Connection, text: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        toks = tokens(text)
        if not toks:
            return []
        long = [t for t in toks if len(t) >= 3]
        short = [t for t in toks if len(t) < 3]
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
        rows = conn.execute(sa.text(sql + " LIMIT :limit"), params)
        return [SearchHit(*row) for row in rows]

    def rebuild(self, conn: sa.Connection) -> None:
        for table in ("customer_fts", "customer_prefix"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
            conn.exec_driver_sql(
                f"INSERT INTO {table}(rowid, name, emails, company, phone) "
                "SELECT id, name, emails, company, phone FROM customer_search_source"
            )


def _like_escape(token: str) -> str:
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
            if len(tok) >= 3:
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


def for_dialect(name: str) -> CustomerSearch:
    if name == "sqlite":
        return SqliteSearch()
    if name == "postgresql":
        return PostgresSearch()
    raise ValueError(f"no customer search for {name}")
