"""A demo database for the desk benchmarks, generated once per --workdir and reused."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bench.common import Options
from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.services.context import Desk

ACTOR = "bench"  # generates the data (first actor, hence supervisor)


def demo_url(folder: Path, opts: Options) -> str:
    return f"sqlite:///{folder / f'desk-{opts.customers}-seed{opts.seed}.sqlite3'}"


def demo_desk(folder: Path, opts: Options) -> Desk:
    """A desk on ``opts.customers`` demo customers (made by helpdesk.demo), acting as one of
    the demo team's agents (who has cases of their own, so "My cases" is not empty)."""
    from helpdesk import demo

    url = demo_url(folder, opts)
    fresh = not Path(url.removeprefix("sqlite:///")).exists()
    db = open_database(url)
    desk = Desk(db=db, settings=Settings(db_url=url, timezone="Europe/Berlin",
                                         key_file=folder / "bench.key"), actor_name=ACTOR)
    if fresh:
        demo.generate(desk, customers=opts.customers, seed=opts.seed)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    return desk.as_agent(demo.AGENTS[1][0])


def sample(desk: Desk, sql: str, n: int) -> list[tuple]:
    """``n`` rows spread through a table (a stride over ids, not the first ones)."""
    with desk.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), {"n": n}).all()]
