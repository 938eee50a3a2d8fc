"""Alembic, driven from code: the desk upgrades its own database when it opens it.

Every schema change runs under the schema lock (:func:`schema_lock`), so a team whose desks
open a new or older database at the same moment creates or upgrades it exactly once: the others
wait, find the work done and carry on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from helpdesk.errors import Invalid

#: PostgreSQL advisory lock key held by the desk that creates or upgrades the schema.
SCHEMA_LOCK = 0x68640001


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "helpdesk:migrations")
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


@dataclass(frozen=True, slots=True)
class SchemaState:
    current: tuple[str, ...]
    heads: tuple[str, ...]

    @property
    def behind(self) -> bool:
        return set(self.current) != set(self.heads) and not self.ahead

    @property
    def ahead(self) -> bool:
        """The database carries a revision this code does not know (written by a newer desk)."""
        return bool(set(self.current) - self._known)

    _known: frozenset[str] = frozenset()


def state(bind: Engine | Connection) -> SchemaState:
    script = ScriptDirectory.from_config(alembic_config())
    known = frozenset(rev.revision for rev in script.walk_revisions())
    if isinstance(bind, Connection):
        current = tuple(MigrationContext.configure(bind).get_current_heads())
    else:
        with bind.connect() as conn:
            current = tuple(MigrationContext.configure(conn).get_current_heads())
    return SchemaState(current=current, heads=tuple(script.get_heads()), _known=known)


@contextmanager
def schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the schema lock until it ends.

    PostgreSQL: a transaction-level advisory lock (per database). SQLite: an exclusive
    transaction, which waits for the lock instead of failing at once the way a deferred
    transaction that tries to start writing does. Either waits as long as another desk's
    upgrade takes (a large file's takes minutes; SQLite: ``FIRST_START_WAIT_MS``), not just
    the busy timeout of ordinary writes, which a team of desks opening at once outlasts.

    On SQLite, foreign keys are off while the lock is held, the procedure SQLite documents for
    schema changes: changing a column rebuilds its table (copy, drop, rename) while other
    tables' rows point at it. They can only be switched outside a transaction; each step is
    checked with ``foreign_key_check`` before it commits (:func:`_run`).
    """
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            conn.execution_options(helpdesk_exclusive=True, helpdesk_patient=True)
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
                yield conn
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys = ON")


def to_head(engine: Engine, *, before_upgrade: Callable[[], object] | None = None) -> None:
    """Bring the schema to this code's heads, unless another desk already did.

    Decided under the schema lock: a desk that waited for another one finds the schema at head
    and does nothing. ``before_upgrade`` runs under the lock only when an existing schema is
    about to be upgraded (the SQLite copy made aside first).
    """
    with schema_lock(engine) as conn:
        now = state(conn)
        if now.ahead:
            raise Invalid(
                "this database was written by a newer helpdesk "
                f"(revision {', '.join(now.current)}); upgrade helpdesk to open it"
            )
        if not now.behind:
            return
        if now.current and before_upgrade is not None:
            before_upgrade()
        _run(command.upgrade, conn, "heads")
        _reapply_team_grants(conn)


def _reapply_team_grants(conn: Connection) -> None:
    """A team database: grant the tables a migration added (see helpdesk.db.team)."""
    from helpdesk.db import team

    team.reapply(conn)


def upgrade(engine: Engine, revision: str = "heads") -> None:
    with schema_lock(engine) as conn:
        _run(command.upgrade, conn, revision)
        if revision == "heads":
            _reapply_team_grants(conn)


def downgrade(engine: Engine, revision: str) -> None:
    with schema_lock(engine) as conn:
        _run(command.downgrade, conn, revision)


def _run(step: Callable[[Config, str], None], conn: Connection, revision: str) -> None:
    cfg = alembic_config(conn.engine)
    cfg.attributes["connection"] = conn
    step(cfg, revision)
    if conn.dialect.name == "sqlite" and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
        raise RuntimeError(f"migrating to {revision} broke a foreign key")
