"""Opening a database: engine settings per backend, migrations on open, unit-of-work sessions."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DataError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from helpdesk import files
from helpdesk.clock import utcnow
from helpdesk.config import data_dir
from helpdesk.db.search import register_functions
from helpdesk.errors import (
    Busy,
    Conflict,
    Forbidden,
    HelpdeskError,
    Invalid,
    NotFound,
    Unavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
#: How long a SQLite desk's first-start steps (schema changes, recording the key, registering
#: the first supervisor) wait for other desks' (ms): a team opening a new database at once
#: queues behind them longer than an ordinary write's busy timeout; a large file's upgrade
#: takes minutes. PostgreSQL's locks wait without limit.
FIRST_START_WAIT_MS = 600_000
SQLITE_BUSY_SNAPSHOT = 517  # a read snapshot went stale before its first write
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL: a grant or a team-mode guard refused
CONNECT_TIMEOUT_S = 10  # an unreachable server is reported, not waited for
_SERVER_GONE = {"57P01", "57P02", "57P03"}  # shut down, crashed, not accepting connections


def normalize_url(url: str | URL) -> URL:
    """Accept plain ``postgresql://`` URLs and route them to psycopg 3; refuse, in one line,
    what is not a URL or not text (the message never repeats the value: it may hold a
    password)."""
    if isinstance(url, str):
        try:
            url.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid("the database URL or path is not valid text (it holds bytes that are "
                          "not UTF-8): rename the folder or file, or give another --db",
                          field="db") from None
        try:
            parsed = make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            raise Invalid("the database is not given as a URL: use sqlite:///PATH for a file "
                          "or postgresql://USER@HOST/DATABASE for a server", field="db") from None
    else:
        parsed = url
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module so BEGIN is ours (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed: erased data leaves the file
    cur.execute("PRAGMA synchronous = NORMAL")
    # A file another desk is still making (not yet in WAL mode, locked for its first steps)
    # cannot even be read: the switch waits as long as a first start, not a write's timeout.
    cur.execute(f"PRAGMA busy_timeout = {FIRST_START_WAIT_MS}")
    if cur.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cur.execute("PRAGMA journal_mode = WAL")
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.close()
    register_functions(dbapi_conn)  # the customer search triggers fold text with it


def _sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the lock up front (BEGIN IMMEDIATE) so the busy timeout applies, instead of a
    # deferred transaction failing at once when it tries to upgrade a read lock. Schema changes
    # take it exclusively (see helpdesk.db.migrate.schema_lock). A first-start step waits
    # longer (``helpdesk_patient``) until its transaction ends (_sqlite_end).
    options = conn.get_execution_options()
    if options.get("helpdesk_patient", False):
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            f"PRAGMA busy_timeout = {FIRST_START_WAIT_MS}")
    if options.get("helpdesk_exclusive", False):
        conn.exec_driver_sql("BEGIN EXCLUSIVE")
    elif options.get("helpdesk_write", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _sqlite_end(conn: sa.Connection) -> None:
    if conn.get_execution_options().get("helpdesk_patient", False):
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


#: A pooled PostgreSQL connection idle this long is checked before use (the server may have
#: been restarted, or a firewall may have dropped it, while the desk sat open).
PG_IDLE_PING_SECONDS = 30.0


def _pg_idle_since(_dbapi_conn: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _pg_ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection that sat idle in the pool, and only such a one: pinging at every
    checkout (``pool_pre_ping``) costs a network round trip per unit of work, a third of a
    lookup as you type. A failed ping makes the pool replace the connection."""
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < PG_IDLE_PING_SECONDS:
        return
    try:
        with dbapi_conn.cursor() as cur:
            cur.execute("SELECT 1")
        dbapi_conn.rollback()  # back to idle, as the pool handed it out
    except Exception as exc:  # any failure: the connection is not usable
        raise DisconnectionError(str(exc)) from exc


def create_db_engine(url: str | URL, **kw: Any) -> Engine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            files.prepare_database_file(path, create_folder=path.parent == data_dir())
        engine = sa.create_engine(parsed, **kw)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _sqlite_end)
        event.listen(engine, "rollback", _sqlite_end)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kw.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        try:
            engine = sa.create_engine(parsed, **kw)
        except (sa.exc.NoSuchModuleError, ImportError):
            raise Invalid("PostgreSQL support is not installed: pip install "
                          "'helpdesk[postgres]'", field="db") from None
        event.listen(engine, "checkin", _pg_idle_since)
        event.listen(engine, "checkout", _pg_ping_if_idle)
        return engine
    raise Invalid(f"unsupported database '{parsed.get_backend_name()}': use sqlite or postgresql")


class Database:
    """An opened database: the engine plus unit-of-work sessions that speak domain errors."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(helpdesk_write=True)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def sqlite_path(self) -> Path | None:
        if self.backend != "sqlite":
            return None
        database = self.engine.url.database
        return Path(database) if database and database != ":memory:" else None

    def describe(self) -> str:
        """Where the data is, for people: the file path, or user@host:port/database (never a
        password)."""
        if self.backend == "sqlite":
            return str(self.sqlite_path or ":memory:")
        url = self.engine.url
        where = f"{url.host or 'localhost'}{f':{url.port}' if url.port else ''}/{url.database}"
        return f"{url.username}@{where}" if url.username else where

    @contextmanager
    def session(self, *, write: bool = False, patient: bool = False) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back and translates errors on failure.

        ``patient``: a write of a desk's first start, which waits for other desks' first starts
        as long as they take (SQLite: ``FIRST_START_WAIT_MS``, not the busy timeout).
        """
        bind = self._writer.execution_options(helpdesk_patient=True) if patient else (
            self._writer if write else self.engine)
        session = Session(bind, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except HelpdeskError:
            session.rollback()
            raise
        except StaleDataError:
            session.rollback()
            raise Conflict(
                "someone else changed this record since you opened it; reload and try again"
            ) from None
        except IntegrityError as exc:
            session.rollback()
            raise Conflict(f"the change clashes with existing data ({_constraint(exc)})") from None
        except (DataError, OverflowError):
            # an id beyond the integer range (PostgreSQL's int4, SQLite's int8) typed somewhere
            session.rollback()
            raise Invalid("a value is out of range for the database") from None
        except OperationalError as exc:
            session.rollback()
            if getattr(exc.orig, "sqlite_errorcode", None) == SQLITE_BUSY_SNAPSHOT:
                raise Conflict(
                    "someone else changed the data while you were reading it; try again"
                ) from None
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise Busy(
                    "the database is locked by another writer; try again in a moment"
                ) from None
            state = getattr(exc.orig, "sqlstate", None)
            if self.backend == "postgresql" and (
                state is None or state.startswith("08") or state in _SERVER_GONE
            ):
                raise connection_problem(self.engine.url, exc) from None  # server gone
            raise
        except sa.exc.DBAPIError as exc:
            session.rollback()
            if getattr(exc.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
                raise Forbidden(f"the database refused: {_primary(exc)}") from None
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection for a read on the hot path (lookup as you type), without a Session.

        On PostgreSQL it runs in autocommit, which saves the BEGIN and COMMIT round trips and
        loses nothing: under READ COMMITTED every statement has its own snapshot anyway. On
        SQLite it is a plain read transaction.
        """
        with self.engine.connect() as conn:
            if self.backend == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def get_for_change(session: Session, model: type[T], ident: Any) -> T | None:
    """Load a row to change it, locked until the unit of work ends, with its current values.

    On PostgreSQL (``SELECT ... FOR UPDATE``) a concurrent writer of the same row waits for this
    one to commit and then reads what it wrote, so a blind change never works from a stale copy
    and the version check of its UPDATE cannot fail. On SQLite a writer already holds the whole
    database (``BEGIN IMMEDIATE``), so the copy it reads is current anyway.
    """
    return session.get(model, ident, with_for_update=True, populate_existing=True)


def connection_problem(url: URL, exc: sa.exc.DBAPIError) -> HelpdeskError:
    """Why the database cannot be used, in one line saying what to do (never a password)."""
    text = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
    low = text.lower()
    if url.get_backend_name() == "sqlite":
        path = url.database
        if "not a database" in low:
            return Invalid(f"{path} is not a SQLite database; give the desk's database file",
                           field="db")
        return Unavailable(f"cannot open the database file {path} ({text[:120]}): check that "
                           "you may read and write it and its folder", field="db")
    user, db = url.username or "(your login name)", url.database or "(default)"
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if "password authentication failed" in low or "no password supplied" in low:
        return Forbidden(f"PostgreSQL at {where} refused the login of '{user}': wrong or "
                         "missing password. Keep it in ~/.pgpass (or the file PGPASSFILE "
                         "names), not in the URL", field="db")
    if "role" in low and "does not exist" in low:
        return Forbidden(f"PostgreSQL at {where} has no login role '{user}': ask a supervisor "
                         "to add you ('helpdesk agent add')", field="db")
    if "database" in low and "does not exist" in low:
        return NotFound(f"PostgreSQL at {where} has no database '{db}': correct the URL, or "
                        "create it (createdb) and run 'helpdesk db upgrade'", field="db")
    if "permission denied for database" in low or "not permitted to log in" in low \
            or "pg_hba.conf" in low:
        return Forbidden(f"PostgreSQL at {where} does not let '{user}' connect to '{db}': "
                         "ask the database owner", field="db")
    return Unavailable(f"cannot reach the PostgreSQL server at {where} ({text[:120]}): is it "
                       "running, and are host and port right?", field="db")


def _primary(exc: sa.exc.DBAPIError) -> str:
    """The server's one-line message (PostgreSQL's primary message, without SQL or context)."""
    diag = getattr(exc.orig, "diag", None)
    text = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
    return text[:300]


def _constraint(exc: IntegrityError) -> str:
    text = str(exc.orig).splitlines()[0] if exc.orig else "integrity error"
    return text[:200]


def open_database(url: str | URL, *, upgrade: bool = True, **engine_kw: Any) -> Database:
    """Open (creating if needed) the database at ``url`` and bring its schema to head.

    An existing SQLite file behind the code's schema is copied aside before it is upgraded,
    and the copy is removed once the upgrade has succeeded: kept, it would hold everyone erased
    later (a failed upgrade leaves it, and the live file as it was). Desks opening the same
    database at once upgrade it once, under a lock; the others wait.
    """
    engine = create_db_engine(url, **engine_kw)
    db = Database(engine)
    try:
        engine.connect().close()  # the first connection says whether we may use it at all
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise connection_problem(engine.url, exc) from None
    if upgrade and not _at_head(engine):
        from helpdesk.db import migrate  # Alembic is only loaded when there is work for it

        path = db.sqlite_path
        copies: list[Path] = []

        def copy_aside() -> None:
            if path is not None:
                copies.append(backup_sqlite(path, suffix=f"pre-upgrade-{_stamp()}"))
                log.info("copied the database aside to %s before upgrading", copies[-1])

        try:
            migrate.to_head(engine, before_upgrade=copy_aside)
        except sa.exc.DBAPIError as exc:
            engine.dispose()
            if "locked" in str(exc.orig):  # SQLite: another desk's upgrade outlasted the wait
                raise Busy("another desk is still upgrading this database; try again in a "
                           "moment") from None
            if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                raise
            raise Forbidden(
                "this database needs a schema upgrade that only its owner may run: ask "
                "them to run 'helpdesk db upgrade'"
            ) from None
        except BaseException:
            engine.dispose()
            if copies:
                log.error("the upgrade failed; the database as it was is also kept at %s",
                          copies[-1])
            raise
        for copy in copies:
            remove_sqlite_file(copy)
    return db


def remove_sqlite_file(path: Path) -> None:
    """Delete a SQLite database file with its write-ahead log and shared-memory files."""
    for suffix in ("-wal", "-shm", ""):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _at_head(engine: Engine) -> bool:
    """Whether the schema is exactly at this code's head revisions (one cheap query)."""
    from helpdesk.migrations import HEADS

    try:
        with engine.connect() as conn:
            current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
            return frozenset(current) == HEADS
    except sa.exc.DBAPIError:  # no alembic_version table yet: a new database
        return False


def _stamp() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%SZ")


def backup_sqlite(
    path: Path, *, suffix: str | None = None, target: Path | None = None, force: bool = False
) -> Path:
    """A consistent copy of a live SQLite database (online backup API, safe while others write),
    written as a private file (see :mod:`helpdesk.files`)."""
    target = target or path.with_name(f"{path.name}.{suffix or _stamp()}")
    with files.private_target(target, force=force) as tmp:
        src = sqlite3.connect(path)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    return target
