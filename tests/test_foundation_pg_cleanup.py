"""The per-test PostgreSQL database is dropped even when another role is still connected to it.

CI's role may create databases but not terminate other roles' backends, so ``DROP ... WITH
(FORCE)`` is refused whenever something else (an autovacuum worker, a second desk's role) sits in
the database at teardown. These tests put a second role's connection there on purpose.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.conftest import _UNDROPPED, PG_URL, _pg_admin, drop_test_database

pytestmark = pytest.mark.postgres

if not PG_URL:
    pytest.skip("HELPDESK_TEST_PG_URL is not set: PostgreSQL tests need a server",
                allow_module_level=True)


@pytest.fixture
def second_role() -> Iterator[tuple[str, str]]:
    """A throwaway login role (name, password); needs CREATEROLE, which CI's role has."""
    admin = _pg_admin()
    name, password = f"helpdesk_t2_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
    yield name, password
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')
    admin.dispose()


def _connect_as(role: tuple[str, str], database: str) -> sa.Connection:
    from helpdesk.db.engine import normalize_url

    url = normalize_url(PG_URL or "").set(username=role[0], password=role[1], database=database)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    conn = engine.connect()
    conn.exec_driver_sql("SELECT 1")
    return conn


def _exists(admin: sa.Engine, name: str) -> bool:
    with admin.connect() as conn:
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM pg_database WHERE datname = %(n)s", {"n": name}).scalar())


def test_a_connection_that_outlives_the_drop_is_deferred_then_dropped(second_role) -> None:
    admin = _pg_admin()
    name = f"helpdesk_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    held = _connect_as(second_role, name)
    try:
        assert drop_test_database(admin, name, attempts=1) is False
        assert name in _UNDROPPED and _exists(admin, name)
    finally:
        held.close()
    assert drop_test_database(admin, name) is True
    _UNDROPPED.remove(name)
    assert not _exists(admin, name)
    admin.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_teardown_drops_while_a_second_role_is_still_connected(db_url, second_role) -> None:
    """The fixture's own teardown runs while this connection is still open (closed from a
    timer a moment later): the drop waits for it instead of failing the test."""
    database = sa.engine.make_url(db_url).database or ""
    held = _connect_as(second_role, database)
    threading.Timer(1.5, held.close).start()
