"""Many desks opening a new (or older) database at the same instant, on SQLite and PostgreSQL.

The schema is created or upgraded exactly once, under a lock; exactly one person becomes the
first supervisor; every other desk waits, then carries on with a clear answer. No process may
end in a traceback.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.config import Settings
from helpdesk.db import engine as engine_module
from helpdesk.db import migrate
from helpdesk.db.engine import create_db_engine, open_database
from helpdesk.errors import Busy
from helpdesk.migrations import HEADS
from helpdesk.services import agents
from helpdesk.services.context import Desk, open_desk
from tests.multiproc import Outcome, run_together

DESKS = 6


def _start_desks(url: str, home: Path) -> list[Outcome]:
    """``DESKS`` people open the desk at once, each as themselves; their outcomes."""
    scripts = [[(f"desk{i}", ["--db", url, "agent", "whoami", "--json"])] for i in range(DESKS)]
    return [o for (o,) in run_together(scripts, env={"HELPDESK_HOME": str(home)})]


def _check_one_supervisor(url: str, outcomes: list[Outcome]) -> None:
    assert [o.err for o in outcomes if o.traceback] == []
    first = [o for o in outcomes if o.code == 0]
    assert len(first) == 1, [(o.code, o.err) for o in outcomes]
    me = json.loads(first[0].out)
    for o in outcomes:
        if o.code != 0:  # everyone else: the desk opened, and says who can let them in
            assert o.code == 4 and "is not a desk agent" in o.err, (o.code, o.err)
    engine = create_db_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            agents = conn.exec_driver_sql("SELECT name, role FROM agent").all()
            revisions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
            assert frozenset(revisions) == HEADS
    finally:
        engine.dispose()
    assert [tuple(a) for a in agents] == [(me["name"], "supervisor")] == [(me["name"], me["role"])]


@pytest.mark.parametrize("trial", [1, 2])
def test_desks_starting_at_once_on_an_empty_database(
    empty_db_url: str, tmp_path: Path, trial: int
) -> None:
    _check_one_supervisor(empty_db_url, _start_desks(empty_db_url, tmp_path / "home"))


def test_desks_starting_at_once_on_an_older_schema_upgrade_it_once(
    empty_db_url: str, tmp_path: Path
) -> None:
    engine = create_db_engine(empty_db_url, poolclass=sa.pool.NullPool)
    migrate.upgrade(engine, "0001")
    engine.dispose()

    _check_one_supervisor(empty_db_url, _start_desks(empty_db_url, tmp_path / "home"))

    if empty_db_url.startswith("sqlite"):  # the copy made aside went once the upgrade worked
        folder = Path(empty_db_url.removeprefix("sqlite:///")).parent
        assert list(folder.glob("helpdesk.sqlite3.pre-upgrade-*")) == []


class _SqliteWriter:
    """Another desk's connection to a SQLite file holding its write lock for ``seconds``."""

    def __init__(self, path: Path, seconds: float, journal: str = "WAL") -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute(f"PRAGMA journal_mode = {journal}")  # WAL: readers go on reading
        self.conn.execute("BEGIN EXCLUSIVE")
        self.conn.execute("CREATE TABLE IF NOT EXISTS first_step (x)")
        self.timer = threading.Timer(seconds, self.conn.execute, ["COMMIT"])
        self.timer.start()

    def close(self) -> None:
        self.timer.join()
        self.conn.close()


def test_a_sqlite_desk_waits_out_an_upgrade_longer_than_the_write_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thirty desks queueing behind the first one's migrations wait longer than an ordinary
    # write would (the busy timeout, here shortened to 0.2 s); none of them may give up.
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "helpdesk.sqlite3"
    other = _SqliteWriter(path, seconds=1.5)
    try:
        db = open_database(f"sqlite:///{path}")
    finally:
        other.close()
    with db.session() as s:
        assert s.exec(sa.text("SELECT count(*) FROM agent")).one() == (0,)
    db.dispose()


def test_a_sqlite_upgrade_that_outlasts_the_wait_is_busy_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "FIRST_START_WAIT_MS", 200)
    path = tmp_path / "helpdesk.sqlite3"
    other = _SqliteWriter(path, seconds=1.5)
    try:
        with pytest.raises(Busy, match="another desk is still upgrading"):
            open_database(f"sqlite:///{path}")
    finally:
        other.close()


def test_whoami_on_a_desk_with_agents_answers_while_another_desk_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thirty desks asking who they are must not queue for SQLite's one write lock.
    path = tmp_path / "helpdesk.sqlite3"
    db = open_database(f"sqlite:///{path}")
    settings = Settings(db_url=f"sqlite:///{path}", timezone="Europe/Berlin",
                        key_file=tmp_path / "key")
    assert agents.whoami(Desk(db=db, settings=settings, actor_name="alice")).role == "supervisor"
    db.dispose()
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 200)
    db = open_database(f"sqlite:///{path}")
    other = _SqliteWriter(path, seconds=1.5)
    try:
        me = agents.whoami(Desk(db=db, settings=settings, actor_name="alice"))
    finally:
        other.close()
        db.dispose()
    assert (me.name, me.role) == ("alice", "supervisor")


def test_the_first_supervisor_is_registered_however_long_the_other_desks_keep_it_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thirty desks find the new database empty at once: each records the key and registers
    # its person in turn, and the last in the queue waits longer than an ordinary write would.
    path = tmp_path / "helpdesk.sqlite3"
    open_database(f"sqlite:///{path}").dispose()  # the schema is in place, nobody registered
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 200)
    settings = Settings(db_url=f"sqlite:///{path}", timezone="Europe/Berlin",
                        key_file=tmp_path / "key")
    other = _SqliteWriter(path, seconds=4)  # 20 times the (shortened) busy timeout
    try:
        desk = open_desk(settings, agent="alice")
        me = agents.whoami(desk)
    finally:
        other.close()
    desk.db.dispose()
    assert (me.name, me.role) == ("alice", "supervisor")


def test_a_sqlite_desk_waits_for_the_first_desk_still_making_the_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first desk has just created the file and holds it before it is even in WAL mode:
    # a desk connecting now waits to switch it, as long as a first start takes.
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "helpdesk.sqlite3"
    other = _SqliteWriter(path, seconds=4, journal="DELETE")
    try:
        db = open_database(f"sqlite:///{path}")
    finally:
        other.close()
    with db.session() as s:
        assert s.exec(sa.text("PRAGMA journal_mode")).one() == ("wal",)
    db.dispose()
