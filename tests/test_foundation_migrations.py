"""Migrations: a database with data written at the first revision upgrades to head intact."""

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex

from helpdesk.db import migrate, models
from helpdesk.db.engine import create_db_engine, open_database
from helpdesk.db.search import for_dialect
from helpdesk.errors import Invalid


@pytest.fixture
def empty_url(db_url: str, tmp_path: Path) -> str:
    """An empty database on the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_db_engine(db_url)
    with engine.begin() as conn:  # the template copy is migrated: wipe it back to nothing
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    return db_url


def test_first_revision_data_survives_upgrade_to_head(empty_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(empty_url)
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO customer (id, name, company, under_13, marketing_opted_out, "
                "created_at, updated_at, version) "
                "VALUES (7, 'Zofia Wiśniewska', 'Kwiat Sp.', false, true, :t, :t, 1)"
            ),
            {"t": "2020-01-01 00:00:00"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO customer_email (customer_id, address, normalized, is_primary, "
                "created_at) VALUES (7, 'zofia@kwiat.example', 'zofia@kwiat.example', true, :t)"
            ),
            {"t": "2020-01-01 00:00:00"},
        )
    assert migrate.state(engine).behind
    engine.dispose()

    db = open_database(empty_url)
    try:
        assert not migrate.state(db.engine).behind
        with db.engine.connect() as conn:
            hits = [h.id for h in for_dialect(db.backend).search(conn, "kwiat")]
            assert hits == [7]
            row = conn.execute(sa.text("SELECT name, marketing_opted_out FROM customer")).one()
            assert row == ("Zofia Wiśniewska", True)
    finally:
        db.dispose()
    if empty_url.startswith("sqlite"):  # the copy made aside is gone once the upgrade worked
        assert list(tmp_path.glob("old.sqlite3.pre-upgrade-*")) == []


def test_a_failed_upgrade_keeps_the_copy_aside_and_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine, "0001")
    engine.dispose()
    raw = sqlite3.connect(path)  # a reference to nowhere, which the upgrade's check refuses
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("INSERT INTO customer_email (customer_id, address, normalized, is_primary, "
                "created_at) VALUES (99, 'x@example.com', 'x@example.com', 1, '2020-01-01')")
    raw.commit()
    raw.close()

    with pytest.raises(RuntimeError, match="broke a foreign key"):
        open_database(f"sqlite:///{path}")

    copies = list(tmp_path.glob("old.sqlite3.pre-upgrade-*"))
    assert len(copies) == 1
    assert copies[0].stat().st_mode & 0o777 == 0o600  # it holds everyone: private
    engine = create_db_engine(f"sqlite:///{path}")
    assert migrate.state(engine).current == ("0001",)
    engine.dispose()


def test_declared_heads_match_the_revision_files() -> None:
    from alembic.script import ScriptDirectory

    from helpdesk.migrations import HEADS

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert frozenset(script.get_heads()) == HEADS


def test_downgrade_to_first_revision_and_back(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate.downgrade(engine, "0001")
    assert migrate.state(engine).current == ("0001",)
    migrate.upgrade(engine)
    assert not migrate.state(engine).behind
    engine.dispose()


def test_database_from_a_newer_desk_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    open_database(url).dispose()
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    engine.dispose()
    with pytest.raises(Invalid, match="newer helpdesk"):
        open_database(url)


def test_sqlite_connections_use_wal_foreign_keys_and_secure_delete(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    with db.engine.connect() as conn:
        pragma = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "foreign_keys", "secure_delete", "busy_timeout")
        }
    db.dispose()
    assert pragma["journal_mode"] == "wal"
    assert pragma["foreign_keys"] == 1
    assert pragma["secure_delete"] == 1
    assert pragma["busy_timeout"] >= 1000


def test_the_tables_state_the_partial_indexes_the_migrations_made(empty_url: str) -> None:
    """The ORM's tables describe the schema the migrations built, partial indexes included,
    although their conditions are given per backend only once one is known."""
    db = open_database(empty_url)  # builds the schema through the migrations
    try:
        with db.engine.connect() as conn:
            if db.backend == "sqlite":
                rows = conn.execute(sa.text("SELECT name, sql FROM sqlite_master "
                                            "WHERE tbl_name = 'support_case' AND sql IS NOT NULL"))
            else:
                rows = conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes "
                                            "WHERE tablename = 'support_case'"))
            in_database = {name for name, sql in rows if "closed_at IS NULL" in sql}
        declared = {index.name for index in models.Case.__table__.indexes
                    if "closed_at IS NULL" in str(CreateIndex(index).compile(db.engine))}
        assert declared == in_database == {
            "ix_case_open_due", "ix_case_open_assignee_due", "ix_case_open_kind_due"}
    finally:
        db.dispose()
