"""ids are never reused: SQLite tables become AUTOINCREMENT

Without AUTOINCREMENT, SQLite hands out the largest id plus one, so deleting the newest row
(a customer merged away, an e-mail address removed) lets the next insert take its id, and the
audit trail and erasure ledger of that id then mix two people. Every table with an integer
``id`` is rebuilt as AUTOINCREMENT (data, indexes and constraints kept; views and triggers
dropped around the rebuild and re-created from their own stored DDL), and its sequence is set
past every id the audit trail or the ledger ever named, so ids already handed out before this
revision are not reused either. PostgreSQL sequences never go back: nothing to do there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Audit object types naming rows of a table (ids the trail refers to).
AUDITED = {"agent": "agent", "archive_check": "archive_check", "case": "support_case",
           "customer": "customer", "disclosure": "disclosure", "erasure": "erasure",
           "intake_item": "intake_item", "policy_version": "policy_version",
           "reply_template": "reply_template", "suppression_entry": "suppression_entry"}


def _id_tables(conn: sa.Connection) -> list[str]:
    inspector = sa.inspect(conn)
    names = []
    for name in inspector.get_table_names():
        if name == "alembic_version" or name.startswith(("sqlite_", "customer_fts",
                                                        "customer_prefix")):
            continue
        if inspector.get_pk_constraint(name).get("constrained_columns") == ["id"]:
            names.append(name)
    return names


def _rebuild(autoincrement: bool) -> None:
    conn = op.get_bind()
    saved = conn.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('view', 'trigger') "
        "AND sql IS NOT NULL ORDER BY type DESC").all()  # views first: triggers read them
    for kind, name, _ in reversed(saved):
        conn.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    for name in _id_tables(conn):
        with op.batch_alter_table(name, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
    for _, _, ddl in saved:
        conn.exec_driver_sql(ddl)


def _floor(conn: sa.Connection) -> dict[str, int]:
    """The highest id each table ever had that the audit trail or the ledger names."""
    floor: dict[str, int] = {}
    for object_type, highest in conn.exec_driver_sql(
            "SELECT object_type, max(object_id) FROM audit_event GROUP BY object_type"):
        table = AUDITED.get(object_type)
        if table and highest is not None:
            floor[table] = max(floor.get(table, 0), int(highest))
    for column, table in (("customer_id", "customer"), ("case_id", "support_case")):
        highest = conn.exec_driver_sql(f"SELECT max({column}) FROM erasure").scalar()
        if highest is not None:
            floor[table] = max(floor.get(table, 0), int(highest))
    return floor


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    _rebuild(autoincrement=True)
    floor = _floor(conn)
    for name in _id_tables(conn):
        highest = max(conn.exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{name}"')
                      .scalar() or 0, floor.get(name, 0))
        conn.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (name,))
        conn.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                             (name, highest))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)
