"""Shared fixtures: a fresh, migrated database per test on SQLite and (when configured) PostgreSQL.

Storage and service tests take the ``desk`` fixture and run once per backend. PostgreSQL runs
when ``HELPDESK_TEST_PG_URL`` points at a server where the user may create databases (CI sets
it); otherwise those runs are skipped with the reason. Migrations run once per backend per test
session into a template; each test gets a copy, so tests stay isolated and fast.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from helpdesk.config import Settings
from helpdesk.db.engine import create_db_engine, normalize_url, open_database
from helpdesk.domain import CaseKind
from helpdesk.services import cases, verification
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CaseDetail

PG_URL = os.environ.get("HELPDESK_TEST_PG_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: runs against PostgreSQL")


class FakeClock:
    """A clock the test moves by hand. Starts at a fixed instant so dates are reproducible."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 10, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    open_database(f"sqlite:///{path}").dispose()
    return path


def _pg_admin() -> sa.Engine:
    assert PG_URL
    return create_db_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("HELPDESK_TEST_PG_URL is not set: PostgreSQL tests need a server")
    name = f"helpdesk_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = normalize_url(PG_URL).set(database=name)
    open_database(url, poolclass=sa.pool.NullPool).dispose()
    yield name
    drop_test_database(admin, name)
    for leftover in list(_UNDROPPED):
        if drop_test_database(admin, leftover, attempts=4):
            _UNDROPPED.remove(leftover)
        else:
            warnings.warn(
                f"could not drop the PostgreSQL test database {leftover}: another process is "
                "still connected to it; drop it by hand",
                stacklevel=1,
            )
    admin.dispose()


#: Test databases whose drop was refused at teardown; the session tries them again at its end.
_UNDROPPED: list[str] = []


def drop_test_database(admin: sa.Engine, name: str, *, attempts: int = 2) -> bool:
    """Drop ``name``, tolerating other processes in it; return whether it is gone.

    ``WITH (FORCE)`` has to terminate every other backend in the database, and a role without
    ``pg_signal_backend`` may not terminate one it does not own (an autovacuum worker that has
    just started on the fresh database, or a second role's connection). On refusal the plain
    ``DROP`` follows: it asks autovacuum workers to leave by themselves and waits up to five
    seconds for other sessions to end. A database that still cannot go is remembered and
    dropped at the session's end; a failed cleanup never fails the test that used it.
    """
    from psycopg import errors as pg_errors

    refused = (pg_errors.InsufficientPrivilege, pg_errors.ObjectInUse)
    for attempt in range(attempts):
        for force in (" WITH (FORCE)", ""):
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"{force}')
                return True
            except sa.exc.DBAPIError as exc:
                if not isinstance(exc.orig, refused):
                    raise
        time.sleep(0.2 * (attempt + 1))
    if name not in _UNDROPPED:
        _UNDROPPED.append(name)
    return False


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database at the newest schema, on each backend in turn."""
    if request.param == "sqlite":
        target = tmp_path / "helpdesk.sqlite3"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    template = request.getfixturevalue("_pg_template")
    name = f"helpdesk_t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield normalize_url(PG_URL or "").set(database=name).render_as_string(hide_password=False)
    drop_test_database(admin, name)
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database nobody has opened yet: no SQLite file, an empty PostgreSQL database."""
    if request.param == "sqlite":
        (tmp_path / "first").mkdir()  # --db needs its folder; only the default one is made
        yield f"sqlite:///{tmp_path / 'first' / 'helpdesk.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip("HELPDESK_TEST_PG_URL is not set: PostgreSQL tests need a server")
    name = f"helpdesk_e_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield normalize_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    drop_test_database(admin, name)
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(db_url=db_url, timezone="Europe/Berlin", key_file=tmp_path / "key")


@pytest.fixture
def desk(settings: Settings, clock: FakeClock) -> Iterator[Desk]:
    """A desk acting as 'alice', the first (hence supervisor) agent, on a pinned clock."""
    db = open_database(settings.db_url)
    d = Desk(db=db, settings=settings, actor_name="alice", clock=clock)
    yield d
    db.dispose()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``HELPDESK_HOME`` for CLI runs, away from the real user's configuration.

    Its configuration names the ``settings`` fixture's key file, so the CLI and a ``desk`` of
    the same test are desks of one team, holding the database's one key.
    """
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HELPDESK_DB_URL", raising=False)
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    config = tmp_path / "home" / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"key_file = {str(tmp_path / 'key')!r}\n")
    return tmp_path / "home"


#: ``cli(*args, agent="alice") -> (exit code, stdout, stderr)``
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(db_url: str, home: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``helpdesk`` in-process on the test database (from ``home``); usage errors give
    exit code 2."""
    from helpdesk.cli import main

    def run(*args: str, agent: str = "alice") -> tuple[int, str, str]:
        try:
            code = main(["--db", db_url, *args], agent=agent)
        except SystemExit as exc:  # argparse refuses the command line
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


async def settle(pilot: Any, rounds: int = 4) -> None:
    """Let a Pilot-driven desk finish its thread workers and the UI updates they post."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture
def ui_desk(tmp_path: Path) -> Iterator[Desk]:
    """A desk on its own SQLite file for screen tests, clock pinned at 2026-03-10 09:00 UTC."""
    db = open_database(f"sqlite:///{tmp_path / 'ui.sqlite3'}")
    desk = Desk(db=db, settings=Settings(db_url="x", timezone="Europe/Berlin",
                                         key_file=tmp_path / "key"),
                actor_name="alice", clock=lambda: datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    yield desk
    db.dispose()


def verified_request(desk: Desk, customer_id: int, kind: CaseKind | str,
                     **kw: Any) -> CaseDetail:
    """An access, correction or deletion case whose requester has been verified (an identity
    document seen), so an export, correction or erasure under it may go ahead."""
    detail = cases.create(desk, kind=kind, customer_id=customer_id, **kw)
    verification.verify(desk, case_id=detail.case.id, method="identity_document")
    return detail


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"
