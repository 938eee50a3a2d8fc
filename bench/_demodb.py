"""A demo database for the desk benchmarks, generated once per --workdir and reused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from bench.common import Options, pg_database
from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.services.context import Desk

ACTOR = "bench"  # generates the data (first actor, hence supervisor)


def demo_url(folder: Path, opts: Options) -> str:
    return f"sqlite:///{folder / f'desk-{opts.customers}-seed{opts.seed}.sqlite3'}"


@contextmanager
def demo_database(folder: Path, opts: Options) -> Iterator[str]:
    """URL of a demo database of ``opts.customers`` customers, generated unless it exists.

    With ``--db`` it is a database on that PostgreSQL server, named after size and seed, kept
    for the next run when ``--workdir`` is given and dropped afterwards otherwise; else the
    SQLite file in ``folder``.
    """
    if not opts.db:
        url = demo_url(folder, opts)
        _fill(url, folder, opts)
        yield url
        return
    keep = opts.workdir is not None
    name = f"helpdesk_bench_{opts.customers}_s{opts.seed}" + ("" if keep else f"_{os.getpid()}")
    with pg_database(opts.db, name, keep=keep) as url:
        _fill(url, folder, opts)
        yield url


def _fill(url: str, folder: Path, opts: Options) -> None:
    """Generate the demo data into ``url`` unless it has customers already (a failed load rolls
    back entirely, so a database with customers is complete)."""
    from helpdesk import demo

    desk = bench_desk(url, folder)
    try:
        with desk.db.engine.connect() as conn:
            if conn.exec_driver_sql("SELECT count(*) FROM customer").scalar():
                return
        demo.generate(desk, customers=opts.customers, seed=opts.seed)
        if desk.db.backend == "sqlite":
            with desk.db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        desk.db.dispose()


def demo_desk(folder: Path, opts: Options) -> Desk:
    """A desk on ``opts.customers`` demo customers (made by helpdesk.demo), acting as one of
    the demo team's agents (who has cases of their own, so "My cases" is not empty)."""
    from helpdesk import demo

    url = demo_url(folder, opts)
    _fill(url, folder, opts)
    return bench_desk(url, folder).as_agent(demo.AGENTS[1][0])


def bench_desk(url: str, folder: Path) -> Desk:
    """A desk on ``url`` acting as the benchmark's own supervisor.

    Its key file is the one a desk whose HELPDESK_HOME is ``folder`` uses (``desk_home``), so
    desk processes a benchmark starts hold the database's key too.
    """
    return Desk(db=open_database(url), actor_name=ACTOR,
                settings=Settings(db_url=url, timezone="Europe/Berlin",
                                  key_file=folder / "data" / "suppression.key"))


def sample(desk: Desk, sql: str, n: int) -> list[tuple]:
    """``n`` rows spread through a table (a stride over ids, not the first ones)."""
    with desk.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), {"n": n}).all()]
