"""``python -m bench demo``: ``helpdesk demo`` against a raw loader writing the same rows.

Figure: seconds for the service call ``helpdesk.demo.generate`` on a fresh database (row
generation included). Baseline: a hand-written loader writing exactly the same rows into the
same migrated schema, the way a careful programmer would, in one transaction. Only the database
work of the baseline is timed (its rows come from the same generator).

* SQLite (default): the stdlib ``sqlite3`` module with the desk's connection settings (foreign
  keys, WAL, the same page cache); secondary indexes and search triggers dropped,
  ``executemany``, then the indexes and the FTS5 index built once.
* PostgreSQL (``--db URL``, the benchmark makes two scratch databases on that server and drops
  them): bare ``psycopg`` ``COPY`` of every table and of the same search rows the service
  writes (folded by the generator), search triggers disabled, foreign keys and the trigram
  indexes set aside during the load and restored once. A second figure compares the service
  with the ``COPY`` statements alone: that baseline leaves out work the service must do and the
  first figure's baseline does (building the two trigram indexes, checking the foreign keys,
  setting the id sequences, ``ANALYZE``), so it is a floor, not a like-for-like loader.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import Figure, Options, desk_home, pg_database, server_settings, workdir
from helpdesk import demo
from helpdesk.config import load_settings
from helpdesk.db.engine import open_database
from helpdesk.db.search import (
    PG_TRIGGERS,
    SQLITE_INDEX,
    SQLITE_TRIGGER_TABLES,
    register_functions,
)
from helpdesk.services.context import Desk

ACTOR = "bench"
AGENT_COLUMNS = ("id", "version", "name", "display_name", "role", "active", "created_at")


def _fresh(path: Path, template: Path) -> Path:
    if path.exists():
        path.unlink()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(template, path)
    return path


def _service(path: Path, opts: Options) -> tuple[float, dict[str, int], Desk]:
    db = open_database(f"sqlite:///{path}")
    desk = Desk(db=db, settings=load_settings(), actor_name=ACTOR)
    start = time.perf_counter()
    counts = demo.generate(desk, customers=opts.customers, seed=opts.seed)
    return time.perf_counter() - start, counts, desk


def _plan_like(desk: Desk, opts: Options) -> tuple[demo.Plan, list[tuple[Any, ...]]]:
    """The plan the service used (read back from its database) and its agent rows, with
    values in the form the backend's driver takes."""
    sqlite = desk.db.backend == "sqlite"
    with desk.db.engine.connect() as conn:
        agents = [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT {', '.join(AGENT_COLUMNS)} FROM agent ORDER BY id")]
    by_name = {row[2]: row for row in agents}
    team = [by_name[name] for name, _, _ in demo.AGENTS]
    base = desk.now().replace(hour=0, minute=0, second=0, microsecond=0)
    plan = demo.Plan(
        customers=opts.customers,
        cases=demo.case_count(opts.customers),
        base=base,
        first_id=dict.fromkeys(demo.TABLES, 1),
        supervisor_id=team[0][0],
        agent_ids=tuple(a[0] for a in team),
        agent_names={a[0]: a[2] for a in team},
        settings=desk.settings,
        policy_versions=(),
        instant=demo.sqlite_instant if sqlite else _same,
        flag=int if sqlite else bool,
        day=date.isoformat if sqlite else _same,
        search_rows=not sqlite,
    )
    return plan, agents


def _raw(path: Path, plan: demo.Plan, agents: list[tuple[Any, ...]], seed: int) -> float:
    """Load the same rows with bare sqlite3; returns the seconds spent in the database."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys = ON", "secure_delete = ON", "synchronous = NORMAL",
                   "journal_mode = WAL", f"cache_size = -{demo.BULK_CACHE_KIB}"):
        conn.execute(f"PRAGMA {pragma}")  # as the desk's own connections (helpdesk.db.engine)
    register_functions(conn)  # the search index folds text with the desk's own function
    spent = 0.0
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(demo.insert_sql("agent", AGENT_COLUMNS), agents)
    tables = ", ".join(f"'{t}'" for t in demo.TABLES)
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({tables})").fetchall()
    owners = ", ".join(f"'{t}'" for t in SQLITE_TRIGGER_TABLES)
    triggers = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({owners})"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    spent += time.perf_counter() - start
    for batch in demo.batches(plan, seed):  # generation is not timed
        start = time.perf_counter()
        for table in demo.TABLES:
            conn.executemany(demo.insert_sql(table, demo.COLUMNS[table]), batch[table])
        spent += time.perf_counter() - start
    start = time.perf_counter()
    for _, ddl in indexes + triggers:
        conn.execute(ddl)
    for table, columns in SQLITE_INDEX:
        names = ", ".join(columns)
        conn.execute(f"INSERT INTO {table}(rowid, {names}) "
                     f"SELECT id, {names} FROM customer_search_source")
    conn.execute("COMMIT")
    spent += time.perf_counter() - start
    conn.close()
    return spent


def _same(value: Any) -> Any:
    return value


def _raw_postgres(
    url: str, plan: demo.Plan, agents: list[tuple[Any, ...]], seed: int
) -> tuple[float, float]:
    """Load the same rows with bare psycopg; seconds spent in the database, and in COPY alone."""
    import psycopg

    def copy(cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: Any) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        with cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as out:
            for row in rows:
                out.write_row(row)

    tables = [*demo.TABLES]
    spent = copying = 0.0
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        cur = conn.cursor()
        start = time.perf_counter()
        copy(cur, "agent", AGENT_COLUMNS, agents)
        for table, trigger in PG_TRIGGERS:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        keys = cur.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
            ([*tables, "customer_search"],)).fetchall()
        for table, name, _ in keys:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        indexes = cur.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i "
            "ON i.oid = x.indexrelid WHERE x.indrelid = 'customer_search'::regclass "
            "AND NOT x.indisunique").fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        spent += time.perf_counter() - start
        for batch in demo.batches(plan, seed):  # generation is not timed
            start = time.perf_counter()
            for table in tables:
                copy(cur, table, demo.COLUMNS[table], batch[table])
            copy(cur, "customer_search", demo.SEARCH_COLUMNS, batch["customer_search"])
            copying += time.perf_counter() - start
        start = time.perf_counter()
        for table, name, definition in keys:
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, ddl in indexes:
            cur.execute(ddl)
        for table, trigger in PG_TRIGGERS:
            cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        for table in tables:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM \"{table}\"))")
        cur.execute(f"ANALYZE {', '.join((*tables, 'customer_search'))}")
        conn.commit()
        spent += time.perf_counter() - start
    return spent + copying, copying


def _run_postgres(opts: Options, server: str) -> list[Figure]:
    tag = os.getpid()
    with workdir(opts) as root, desk_home(root), \
            pg_database(server, f"helpdesk_bench_demo_{tag}") as service_url, \
            pg_database(server, f"helpdesk_bench_copy_{tag}") as raw_url:
        print(f"PostgreSQL: {server_settings(server)}", file=sys.stderr)
        db = open_database(service_url)
        desk = Desk(db=db, settings=load_settings(), actor_name=ACTOR)
        start = time.perf_counter()
        counts = demo.generate(desk, customers=opts.customers, seed=opts.seed)
        service_s = time.perf_counter() - start
        plan, agents = _plan_like(desk, opts)
        db.dispose()
        open_database(raw_url).dispose()  # the same migrated schema
        raw_s, copy_s = _raw_postgres(raw_url, plan, agents, opts.seed)
        check = open_database(raw_url)
        with check.engine.connect() as conn:
            indexed = conn.exec_driver_sql("SELECT count(*) FROM customer_search").scalar()
        check.dispose()
        if indexed != counts["customer"]:
            raise RuntimeError("the baseline did not load the same customers as the service")
    rows = sum(counts.values())
    return [
        Figure("demo generate (seconds)", service_s, raw_s, "s"),
        Figure("demo generate vs COPY alone (seconds)", service_s, copy_s, "s"),
        Figure("demo rows per second", rows / service_s, rows / raw_s,
               f"rows/s ({rows} rows; higher is better)"),
    ]


def run(opts: Options) -> list[Figure]:
    if opts.db:
        return _run_postgres(opts, opts.db)
    with workdir(opts) as root, desk_home(root):
        template = root / "empty.sqlite3"
        if not template.exists():
            open_database(f"sqlite:///{template}").dispose()
        service_s, counts, desk = _service(_fresh(root / "bench-demo.sqlite3", template), opts)
        plan, agents = _plan_like(desk, opts)
        desk.db.dispose()
        raw_path = _fresh(root / "bench-demo-raw.sqlite3", template)
        raw_s = _raw(raw_path, plan, agents, opts.seed)
        with closing(sqlite3.connect(raw_path)) as check:
            raw_customers = check.execute("SELECT count(*) FROM customer_fts").fetchone()[0]
        if raw_customers != counts["customer"]:
            raise RuntimeError("the baseline did not load the same customers as the service")
        rows = sum(counts.values())
        return [
            Figure("demo generate (seconds)", service_s, raw_s, "s"),
            Figure("demo rows per second", rows / service_s, rows / raw_s,
                   f"rows/s ({rows} rows; higher is better)"),
        ]
