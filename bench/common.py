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


def options(argv: argparse.Namespace) -> Options:
    return Options(
        customers=argv.customers,
        workdir=Path(argv.workdir) if argv.workdir else None,
        repeat=argv.repeat,
        seed=argv.seed,
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
