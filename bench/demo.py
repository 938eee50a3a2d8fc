"""``python -m bench demo``: ``helpdesk demo`` against raw sqlite3 loading the same rows.

Figure: seconds for the service call ``helpdesk.demo.generate`` on a fresh SQLite file (row
generation included). Baseline: the stdlib ``sqlite3`` module loading exactly the same rows into
the same migrated schema, with the same connection settings as the desk (foreign keys, WAL, the
same page cache), the way a careful hand-written loader would: secondary indexes and search
triggers dropped, ``executemany`` in one transaction, then the indexes and the FTS5 index built
once. Only the database work of the baseline is timed (its rows come from the same generator).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from bench.common import Figure, Options, desk_home, workdir
from helpdesk import demo
from helpdesk.config import load_settings
from helpdesk.db.engine import open_database
from helpdesk.db.search import SQLITE_INDEX, SQLITE_TRIGGER_TABLES, register_functions
from helpdesk.services.context import Desk

ACTOR = "bench"


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
    """The plan the service used (read back from its database) and its agent rows."""
    with desk.db.engine.connect() as conn:
        agents = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT id, version, name, display_name, role, active, created_at FROM agent "
            "ORDER BY id")]
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
        instant=demo.sqlite_instant,
        flag=int,
        day=lambda d: d.isoformat(),
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
    conn.executemany(demo.insert_sql("agent", ("id", "version", "name", "display_name", "role",
                                               "active", "created_at")), agents)
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


def run(opts: Options) -> list[Figure]:
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
