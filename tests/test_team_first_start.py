"""Many desks opening a new (or older) database at the same instant, on SQLite and PostgreSQL.

The schema is created or upgraded exactly once, under a lock; exactly one person becomes the
first supervisor; every other desk waits, then carries on with a clear answer. No process may
end in a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.db import migrate
from helpdesk.db.engine import create_db_engine
from helpdesk.migrations import HEADS
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

    if empty_db_url.startswith("sqlite"):  # the file was copied aside once, by the upgrader
        folder = Path(empty_db_url.removeprefix("sqlite:///")).parent
        assert len(list(folder.glob("helpdesk.sqlite3.pre-upgrade-*"))) == 1
