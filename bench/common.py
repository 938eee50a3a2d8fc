"""What every benchmark shares: options, figures, timing and a scratch desk home."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.pool import NullPool


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    baseline: float
    unit: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ratio": round(self.ratio, 3)}


@dataclass(frozen=True, slots=True)
class Options:
    customers: int
    workdir: Path | None  # reuse a folder between runs (keeps a generated database)
    repeat: int
    seed: int
    db: str | None = None  # a PostgreSQL server URL (--db); None: embedded SQLite
    agents: int = 20
    seconds: float = 60
    minutes: float = 2.0  # length of scripted sessions (bench session)


def options(argv: argparse.Namespace) -> Options:
    return Options(
        customers=argv.customers,
        workdir=Path(argv.workdir) if argv.workdir else None,
        repeat=argv.repeat,
        seed=argv.seed,
        db=argv.db,
        agents=argv.agents,
        seconds=argv.seconds,
        minutes=argv.minutes,
    )


@contextmanager
def workdir(opts: Options) -> Iterator[Path]:
    """The benchmark's folder: the one given with --workdir, or a temporary one."""
    if opts.workdir:
        opts.workdir.mkdir(parents=True, exist_ok=True)
        yield opts.workdir
        return
    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as tmp:
        yield Path(tmp)


@contextmanager
def desk_home(path: Path) -> Iterator[None]:
    """Point HELPDESK_HOME at ``path`` for the duration (config, key and default database)."""
    old = os.environ.get("HELPDESK_HOME")
    os.environ["HELPDESK_HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HELPDESK_HOME", None)
        else:
            os.environ["HELPDESK_HOME"] = old


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def percentile(samples: list[float], pct: float) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(pct) - 1]


def _admin(server: str) -> Any:
    from helpdesk.db.engine import create_db_engine

    return create_db_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def database_url(server: str, name: str) -> str:
    """The URL of database ``name`` on the PostgreSQL server of ``server``, same login."""
    from helpdesk.db.engine import normalize_url

    return normalize_url(server).set(database=name).render_as_string(hide_password=False)


@contextmanager
def pg_database(server: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """Database ``name`` on the server of ``server`` (created when missing); dropped afterwards
    unless ``keep``. Benchmarks never touch a database they did not name themselves."""
    admin = _admin(server)
    try:
        with admin.connect() as conn:
            if not conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": name}
            ).first():
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield database_url(server, name)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def server_settings(url: str) -> str:
    """The PostgreSQL settings that shape the figures, for the report (one line)."""
    engine = _admin(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ("
                "'server_version', 'shared_buffers', 'work_mem', 'maintenance_work_mem', "
                "'max_connections', 'synchronous_commit', 'effective_cache_size', "
                "'max_wal_size', 'checkpoint_timeout', 'jit') ORDER BY name").all()
    finally:
        engine.dispose()
    return ", ".join(f"{n}={v}" for n, v in rows)
