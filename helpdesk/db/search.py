"""Customer lookup: one interface; FTS5 on SQLite, pg_trgm on PostgreSQL.

Input is whatever an agent (or a pasted e-mail) puts in the lookup field, so it is treated as
data, never as query syntax: control characters are dropped, every token is quoted, and length is
capped. Tokens of three or more characters match any substring (name, any e-mail, company,
phone); shorter tokens match the start of a word, which is what someone typing "jo" expects.

Both sides of a match are *folded* (:func:`fold`): case, accents and the ae/oe/ue spelling of
umlauts do not matter, so "Sohne" finds "Söhne" and "Mueller" finds "Müller" (and the other
way round). The index holds the folded text beside the text as written, which is what results
show. People whose name matches come before customers found by their company or address.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa

MAX_QUERY_CHARS = 256
#: Tokens at least this long (folded) match any substring; shorter ones match word starts.
SUBSTRING_MIN_CHARS = 3
MAX_TOKENS = 8
DEFAULT_LIMIT = 50

#: Letters Unicode does not decompose that have a plain Latin spelling.
_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "\u0131": "i",
                          "ħ": "h", "ŧ": "t", "æ": "ae", "œ": "oe"})
#: German writes ä, ö, ü also as ae, oe, ue ("Mueller"): both fold to the bare vowel.
_SPELLED_UMLAUTS = (("ae", "a"), ("oe", "o"), ("ue", "u"))
#: Name of the folding function in SQL (registered on SQLite connections, created on PostgreSQL).
FOLD_SQL = "helpdesk_fold"


def fold(text: str) -> str:
    """``text`` as the index compares it: case-folded, accents and marks dropped, special
    letters spelled plainly, ae/oe/ue written as the vowel ("Müller", "Mueller" -> "muller")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_LETTERS)
    for spelled, vowel in _SPELLED_UMLAUTS:
        plain = plain.replace(spelled, vowel)
    return plain


def _sql_fold(value: Any) -> str | None:
    return fold(value) if isinstance(value, str) else None


def register_functions(dbapi_connection: Any) -> None:
    """Give a SQLite connection the functions the search triggers call (every connection the
    desk opens gets them; a raw ``sqlite3`` connection that writes customers needs them too)."""
    dbapi_connection.create_function(FOLD_SQL, 1, _sql_fold, deterministic=True)


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
    """Split raw input into folded search tokens, dropping control and format characters and
    tokens with nothing to search for ("&", "-")."""
    cleaned = "".join(
        ch if unicodedata.category(ch)[0] != "C" else " " for ch in text[:MAX_QUERY_CHARS]
    )
    folded = (fold(t) for t in cleaned.split())
    return [t for t in folded if any(ch.isalnum() for ch in t)][:MAX_TOKENS]


class CustomerSearch(Protocol):
    def search(self, conn: sa.Connection, text: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        """Customers matching every token of ``text``; never raises on odd input."""
        ...

    def search_as(
        self, conn: sa.Connection, actor: str, text: str, limit: int = DEFAULT_LIMIT
    ) -> list[SearchHit] | None:
        """:meth:`search`, for ``actor``; None when ``actor`` is not an active agent (the
        caller finds out why). On PostgreSQL the check and the search are one statement: one
        network round trip per keystroke."""
        ...

    def rebuild(self, conn: sa.Connection) -> None:
        """Rebuild the whole index from the customer tables (after a bulk load)."""
        ...

    def bulk_load(
        self, conn: sa.Connection, *, rows_written: bool = False
    ) -> AbstractContextManager[None]:
        """Suspend per-row index maintenance while the block loads customers, then rebuild the
        index once. Runs inside the caller's transaction: if the load fails, the rollback
        restores the triggers too.

        ``rows_written`` (PostgreSQL only): the block also writes every search row itself,
        exactly as ``customer_search_source`` gives it, so the index is built but not refilled
        from the view (demo data folds its few names once instead of a million times in SQL).
        """
        ...


def _fts_phrase(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


#: The SQLite triggers that keep the index in step (created by the search migrations).
SQLITE_TRIGGER_TABLES = ("customer", "customer_email")
#: Indexed (folded) columns of the FTS5 tables; ``customer_fts`` also keeps the text as
#: written, unindexed, for the results.
FOLDED_COLUMNS = ("f_name", "f_emails", "f_company", "f_phone")
SHOWN_COLUMNS = ("name", "emails", "company", "phone")
#: (table, columns) of every FTS5 table, each filled from the view ``customer_search_source``.
#: Everything: substrings (trigram) and word starts (prefix); names alone, likewise, so the
#: people-first pass costs what the names hold, not what every e-mail domain does.
SQLITE_INDEX = (
    ("customer_fts", (*SHOWN_COLUMNS, *FOLDED_COLUMNS)),
    ("customer_prefix", FOLDED_COLUMNS),
    ("customer_name_fts", ("f_name",)),
    ("customer_name_prefix", ("f_name",)),
)


class SqliteSearch:
    """FTS5 over folded text: trigram tables answer substrings, unicode61 prefix tables answer
    short input; one pair covers everything, one names only."""

    def search(self, conn: sa.Connection, text: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        toks = tokens(text)
        if not toks:
            return []
        # Straight to the driver, in the caller's transaction with bound parameters: this runs
        # on every keystroke and SQLAlchemy's result machinery would cost more than the query.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            people = self._query(cursor, toks, limit, ("customer_name_fts",
                                                       "customer_name_prefix"), ())
            if len(people) >= limit:
                return people
            others = self._query(cursor, toks, limit - len(people),
                                 ("customer_fts", "customer_prefix"), tuple(h.id for h in people))
            return people + others
        finally:
            cursor.close()

    @staticmethod
    def _query(cursor: Any, toks: list[str], limit: int, tables: tuple[str, str],
               skip: tuple[int, ...]) -> list[SearchHit]:
        """Customers whose text in ``tables`` (trigram, prefix) matches every token, shown
        from ``customer_fts``, leaving out ``skip``."""
        trigram, prefix = tables
        long = [t for t in toks if len(t) >= SUBSTRING_MIN_CHARS]
        short = [t for t in toks if len(t) < SUBSTRING_MIN_CHARS]
        params: dict[str, object] = {"limit": limit}
        # The table with a MATCH drives; the others are looked up by rowid.
        driving = [(trigram, "long", long), (prefix, "short", short)]
        joined = [table for table, _, found in driving if found]
        if "customer_fts" not in joined:
            joined.append("customer_fts")
        sql = ("SELECT customer_fts.rowid, customer_fts.name, customer_fts.emails, "
               "customer_fts.company, customer_fts.phone FROM " + joined[0]
               + "".join(f" JOIN {t} ON {t}.rowid = {joined[0]}.rowid" for t in joined[1:]))
        conditions = []
        for table, name, found in driving:
            if found:
                params[name] = " AND ".join(
                    _fts_phrase(t) + ("*" if name == "short" else "") for t in found)
                conditions.append(f"{table} MATCH :{name}")
        if skip:
            conditions.append(f"customer_fts.rowid NOT IN ({', '.join(map(str, skip))})")
        sql += " WHERE " + " AND ".join(conditions) + " LIMIT :limit"
        return list(map(SearchHit._make, cursor.execute(sql, params).fetchall()))

    def search_as(
        self, conn: sa.Connection, actor: str, text: str, limit: int = DEFAULT_LIMIT
    ) -> list[SearchHit] | None:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            row = cursor.execute("SELECT 1 FROM agent WHERE name = ? AND active",
                                 (actor,)).fetchone()
        finally:
            cursor.close()
        return self.search(conn, text, limit) if row else None

    def rebuild(self, conn: sa.Connection) -> None:
        for table, columns in SQLITE_INDEX:
            names = ", ".join(columns)
            conn.exec_driver_sql(f"DELETE FROM {table}")
            conn.exec_driver_sql(f"INSERT INTO {table}(rowid, {names}) "
                                 f"SELECT id, {names} FROM customer_search_source")

    @contextmanager
    def bulk_load(self, conn: sa.Connection, *, rows_written: bool = False) -> Iterator[None]:
        if rows_written:
            raise ValueError("the SQLite index is filled from its view only")
        # The triggers are recreated from the DDL SQLite stored for them, so their definition
        # stays in one place (the migration) and cannot drift from what the database runs.
        marks = ", ".join("?" for _ in SQLITE_TRIGGER_TABLES)
        triggers = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            f"AND tbl_name IN ({marks})", SQLITE_TRIGGER_TABLES,
        ).all()
        with _set_aside(conn, "TRIGGER", triggers):
            yield
        self.rebuild(conn)


def _like_escape(token: str) -> str:
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def pg_patterns(toks: list[str]) -> dict[str, str]:
    """A ``LIKE`` pattern per folded token: anywhere (long tokens) or at the start of a word,
    that is after a space, as the second line of ``doc`` and ``name_key`` has one before every
    word (migration 0012)."""
    return {f"t{i}": ("%" if len(tok) >= SUBSTRING_MIN_CHARS else "% ") + _like_escape(tok) + "%"
            for i, tok in enumerate(toks)}


def pg_conditions(text: str) -> tuple[list[str], dict[str, str], str, str] | None:
    """What a PostgreSQL search for ``text`` matches with: its folded tokens, their ``LIKE``
    patterns (``psycopg`` parameters), and the conditions that every pattern is in the name
    key, and in the whole document. None when ``text`` has nothing to search for."""
    toks = [t for t in (t.replace("\x00", "") for t in tokens(text)) if t]
    if not toks:
        return None
    patterns = pg_patterns(toks)
    in_name = " AND ".join(f"name_key LIKE %({key})s" for key in patterns)
    in_doc = " AND ".join(f"doc LIKE %({key})s" for key in patterns)
    return toks, patterns, in_name, in_doc


#: Customers (the lowest ids) a PostgreSQL pass reads in id order before it asks its trigram
#: index: a few milliseconds for a pass they do not fill. Input found in more than one customer
#: in a hundred fills the page there; rarer input leaves the index few rows to hand over.
#: (At a million customers, 2,000 did about as well, 20,000 worse: probes cost more per pass.)
PROBE_ROWS = 5_000

#: True for a ``name_key`` with a mark in it (a character neither letter, digit nor space):
#: the predicate of the trigram index of such names (migration 0017). Names without one
#: cannot match a token with an ASCII mark, so the names pass asks only that index for it.
PG_MARKED_NAME = "name_key ~ '[^[:alnum:][:space:]]'"
_ASCII_MARKS = frozenset(string.punctuation)

#: One row when the agent called ``%(actor)s`` may act, none otherwise.
_ACTIVE_AGENT = "SELECT active AS ok FROM agent WHERE name = %(actor)s AND active"


#: The columns of a PostgreSQL search row, as the view ``customer_search_source`` gives them.
PG_SEARCH_COLUMNS = "customer_id, name, emails, company, phone, doc, name_key"
#: The PostgreSQL triggers that keep the index in step (created by the search migrations).
PG_TRIGGERS = (
    ("customer", "customer_search_aiu"),
    ("customer_email", "customer_email_search_aiud"),
)


class PostgresSearch:
    """pg_trgm: GIN trigram indexes over one folded document per customer (``doc``) and the
    folded name (``name_key``), which puts people before companies; asked only for input the
    first customers do not have enough of (:meth:`statement`).

    Both (view ``customer_search_source``, migration 0012) are the folded text, then a second
    line with the same words separated by single spaces, so that a substring and the start of
    a word are each one ``LIKE`` the indexes answer.
    """

    def search(self, conn: sa.Connection, text: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
        return self._run(conn, None, text, limit) or []

    def search_as(
        self, conn: sa.Connection, actor: str, text: str, limit: int = DEFAULT_LIMIT
    ) -> list[SearchHit] | None:
        return self._run(conn, actor, text, limit)

    @staticmethod
    def statement(text: str, limit: int = DEFAULT_LIMIT) -> tuple[str, dict[str, object]] | None:
        """The search as one statement (``psycopg`` parameters); None when ``text`` has
        nothing to search for.

        People whose name matches come first, then the others, each in id order. A pass first
        reads the ``PROBE_ROWS`` customers with the lowest ids in id order and stops at its
        ``limit``-th match: whatever many customers contain (a letter, a common name, a mail
        domain) fills the page there, after a few hundred rows. Only a pass the first customers
        do not fill asks its trigram index, for matches past them: the input is rare there, so
        the index hands over few rows, while for common input it would have to gather all of
        them (hundreds of thousands at a million customers) before the first could be shown.

        The passes run in order and none starts once the page is full (``UNION ALL`` under
        ``LIMIT``, no sort on top); a pass through an index sorts its at most ``limit`` rows.
        """
        conditions = pg_conditions(text)
        if conditions is None:
            return None
        toks, patterns, in_name, in_doc = conditions
        shown = "customer_id, name, emails, company, phone"
        # The LIMIT keeps the patterns out of this subquery: no trigram index can answer it.
        first = (f"(SELECT {shown}, name_key, doc FROM customer_search "
                 "ORDER BY customer_id LIMIT %(probe)s) first")
        # NULL, so nothing is past them, when the first customers are all of them.
        past = ("customer_id > (SELECT customer_id FROM customer_search ORDER BY customer_id "
                "OFFSET %(probe)s - 1 LIMIT 1)")
        # Implied by the names pass for input with a mark; said, it lets the planner take the
        # small index of names with marks.
        marked = f" AND {PG_MARKED_NAME}" if any(_ASCII_MARKS.intersection(t) for t in toks) else ""
        passes = []
        for matches, hint in ((in_name, marked),
                              (f"{in_doc} AND NOT coalesce({in_name}, false)", "")):
            passes.append(f"(SELECT {shown} FROM {first} WHERE {matches} "
                          "ORDER BY customer_id LIMIT %(limit)s)")
            passes.append(f"(SELECT * FROM (SELECT {shown} FROM customer_search "
                          f"WHERE {matches}{hint} AND {past} LIMIT %(limit)s) rest "
                          "ORDER BY customer_id)")
        sql = " UNION ALL ".join(passes) + " LIMIT %(limit)s"
        return sql, {"limit": limit, "probe": PROBE_ROWS, **patterns}

    def _run(
        self, conn: sa.Connection, actor: str | None, text: str, limit: int
    ) -> list[SearchHit] | None:
        found = self.statement(text, limit)
        search, params = found if found else (None, {})
        if actor is None:
            if search is None:
                return []
            sql = search
        elif search is None:
            sql = _ACTIVE_AGENT
        else:  # no row at all unless the agent may act; the search runs only then
            sql = (f"SELECT g.ok, s.* FROM ({_ACTIVE_AGENT}) g "
                   f"LEFT JOIN LATERAL ({search}) s ON true")
        # Straight to the driver (as for SQLite): SQLAlchemy's statement and result machinery
        # costs more than the query on every keystroke. Never a prepared statement: its generic
        # plan knows no pattern, and a scan in id order is ruinous for a rare one.
        driver = conn.connection.driver_connection
        rows = driver.execute(sql, {**params, "actor": actor},  # type: ignore[union-attr]
                              prepare=False).fetchall()
        if actor is None:
            return list(map(SearchHit._make, rows))
        if not rows:
            return None
        return [SearchHit._make(r[1:]) for r in rows if search is not None and r[1] is not None]

    def rebuild(self, conn: sa.Connection) -> None:
        """Refill the index from ``customer_search_source`` in one statement."""
        with _trigram_indexes_set_aside(conn):
            _refill(conn)

    @contextmanager
    def bulk_load(self, conn: sa.Connection, *, rows_written: bool = False) -> Iterator[None]:
        # DISABLE TRIGGER is transactional in PostgreSQL; only the index triggers are touched.
        for table, trigger in PG_TRIGGERS:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        with _trigram_indexes_set_aside(conn):
            yield
            if not rows_written:
                _refill(conn)
        for table, trigger in PG_TRIGGERS:
            conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


@contextmanager
def _trigram_indexes_set_aside(conn: sa.Connection) -> Iterator[None]:
    """Drop the trigram indexes of ``customer_search`` and build them once afterwards from
    their own stored definitions (one index build instead of a million index insertions)."""
    indexes = conn.exec_driver_sql(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'customer_search'::regclass AND NOT x.indisunique"
    ).all()
    with _set_aside(conn, "INDEX", indexes):
        yield


@contextmanager
def _set_aside(conn: sa.Connection, kind: str,
               found: Sequence[sa.Row[tuple[str, str]]]) -> Iterator[None]:
    """Drop each ``kind`` (TRIGGER, INDEX) of ``found`` (name, stored DDL) and create it
    again afterwards from that DDL, so its definition stays where the migration put it."""
    for name, _ in found:
        conn.exec_driver_sql(f'DROP {kind} "{name}"')
    yield
    for _, ddl in found:
        conn.exec_driver_sql(ddl)


def _refill(conn: sa.Connection) -> None:
    conn.exec_driver_sql("TRUNCATE customer_search")
    conn.exec_driver_sql(
        f"INSERT INTO customer_search ({PG_SEARCH_COLUMNS}) "
        f"SELECT {PG_SEARCH_COLUMNS} FROM customer_search_source"
    )


def for_dialect(name: str) -> CustomerSearch:
    if name == "sqlite":
        return SqliteSearch()
    if name == "postgresql":
        return PostgresSearch()
    raise ValueError(f"no customer search for {name}")
