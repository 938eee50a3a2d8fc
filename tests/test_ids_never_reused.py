"""Ids are never reused: after the newest customer is merged away (or any newest row deleted),
the next one gets a new id, so an id in the audit trail or the ledger names one person only."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from helpdesk.db import migrate
from helpdesk.db.engine import create_db_engine, open_database
from helpdesk.db.models import AuditEvent, CustomerEmail
from helpdesk.db.search import for_dialect
from helpdesk.services import customers, merge
from helpdesk.services.context import Desk


def test_a_merged_customers_id_is_not_handed_out_again(desk: Desk) -> None:
    keep = customers.create(desk, name="Kept Person", emails=["kept@example.com"]).id
    gone = customers.create(desk, name="Merged Person", emails=["merged@example.com"]).id
    merge.merge(desk, keep_id=keep, other_id=gone)

    newcomer = customers.create(desk, name="New Person", emails=["new@example.com"]).id

    assert newcomer > gone
    with desk.db.session() as s:
        about_gone = s.exec(select(AuditEvent.action).where(
            AuditEvent.object_type == "customer", AuditEvent.object_id == gone)).all()
    assert "customer.create" in about_gone and len(about_gone) == 1  # only the merged person


def test_a_deleted_newest_email_row_keeps_its_id(desk: Desk) -> None:
    first = customers.create(desk, name="A Person", emails=["a@example.com", "b@example.com"])
    with desk.db.session(write=True) as s:
        newest = s.exec(select(CustomerEmail).order_by(col(CustomerEmail.id).desc())).first()
        assert newest is not None
        old_id = newest.id
        s.delete(newest)
    customers.add_email(desk, customer_id=first.id, address="c@example.com")
    with desk.db.session() as s:
        assert max(s.exec(select(CustomerEmail.id)).all()) > (old_id or 0)  # type: ignore[type-var]


def test_every_sqlite_table_with_an_id_is_autoincrement(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        with db.engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
        with_id = [(n, sql) for n, sql in tables if sql and "\n\tid INTEGER" in sql]
        assert len(with_id) > 15
        assert [n for n, sql in with_id if "AUTOINCREMENT" not in sql] == []
    finally:
        db.dispose()


def test_upgrade_keeps_data_and_never_reuses_ids_the_trail_names(
    db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL sequences never go back; the migration changes SQLite only")
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine, "0006")
    now = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        for cid, name in ((1, "Ana Old"), (2, "Bo Old"), (3, "Cy Merged")):
            conn.execute(sa.text(
                "INSERT INTO customer (id, name, under_13, marketing_opted_out, created_at, "
                "updated_at, version) VALUES (:id, :name, false, false, :t, :t, 1)"),
                {"id": cid, "name": name, "t": now})
        conn.execute(sa.text(
            "INSERT INTO customer_email (customer_id, address, normalized, is_primary, "
            "created_at) VALUES (2, 'bo@old.example', 'bo@old.example', true, :t)"), {"t": now})
        conn.execute(sa.text(
            "INSERT INTO audit_event (at, action, object_type, object_id, details, prev_hash, "
            "hash) VALUES (:t, 'customer.merge', 'customer', 3, '{}', 'x', 'y')"), {"t": now})
        conn.execute(sa.text("DELETE FROM customer WHERE id = 3"))  # merged away before
    engine.dispose()

    db = open_database(url)
    try:
        desk_ids = _insert_customer(db)
        assert desk_ids == 4  # 3 is named by the trail: never again
        with db.engine.connect() as conn:
            names = conn.exec_driver_sql("SELECT id, name FROM customer ORDER BY id").all()
            assert names[:2] == [(1, "Ana Old"), (2, "Bo Old")]
            assert [h.id for h in for_dialect(db.backend).search(conn, "bo@old")] == [2]
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()


def _insert_customer(db: object) -> int:
    with db.engine.begin() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(sa.text(
            "INSERT INTO customer (name, under_13, marketing_opted_out, created_at, updated_at, "
            "version) VALUES ('Dee New', false, false, '2026-02-01', '2026-02-01', 1) "
            "RETURNING id")).scalar_one())
