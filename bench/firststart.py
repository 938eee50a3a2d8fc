"""``python -m bench firststart``: a whole team opening a new database at the same moment.

``--agents N`` desks (default 20; the goal is 30) start at once on an empty database,
``--repeat T`` times (trials; the goal is 10), on SQLite or, with ``--db URL``, on PostgreSQL (a
scratch database per trial on that server, dropped afterwards). Each desk is its own process
running ``helpdesk agent whoami`` as a different agent, released together once every process
is loaded (the harness of tests/test_team_first_start.py, which runs a small version in CI).

Figures: tracebacks (baseline: desks started), trials that did not end with exactly one agent,
a supervisor (baseline: trials), desks that failed other than by being told to ask that
supervisor (baseline: desks started), and the seconds from the release to the last desk's
answer (the slowest desk's own time, from the release; mean over trials).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from bench.common import Figure, Options, pg_database, server_settings
from helpdesk.db.engine import create_db_engine
from tests.multiproc import run_together


def _trial(url: str, desks: int, home: Path) -> tuple[int, bool, int, float]:
    """One start of ``desks`` desks on the empty database at ``url``: tracebacks, whether it
    ended with exactly one supervisor, other failures, seconds until every desk answered."""
    scripts = [[(f"desk{i:02d}", ["--db", url, "agent", "whoami", "--json"])]
               for i in range(desks)]
    outcomes = [o for (o,) in run_together(scripts, env={"HELPDESK_HOME": str(home)},
                                           timeout=600)]
    slowest = max(o.seconds for o in outcomes)
    tracebacks = sum(o.traceback for o in outcomes)
    odd = [o for o in outcomes
           if o.code not in (0, 4) or (o.code == 4 and "is not a desk agent" not in o.err)]
    others = len(odd)
    for o in odd[:2]:  # what went wrong, for the person reading the figures
        print(f"  exit {o.code}: {(o.err.strip().splitlines() or ['?'])[-1][:200]}",
              file=sys.stderr)
    engine = create_db_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT name, role FROM agent").all()
    finally:
        engine.dispose()
    winners = [json.loads(o.out)["name"] for o in outcomes if o.code == 0]
    one = len(rows) == 1 and rows[0][1] == "supervisor" and winners == [rows[0][0]]
    return tracebacks, one, others, slowest


def run(opts: Options) -> list[Figure]:
    desks, trials = opts.agents, opts.repeat
    tracebacks = failed_trials = others = 0
    spans: list[float] = []
    if opts.db:
        print(f"PostgreSQL: {server_settings(opts.db)}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as tmp:
        for trial in range(trials):
            home = Path(tmp) / f"home{trial}"
            if opts.db:
                with pg_database(opts.db, f"helpdesk_bench_first_{os.getpid()}_{trial}") as url:
                    result = _trial(url, desks, home)
            else:
                result = _trial(f"sqlite:///{Path(tmp) / f'desk{trial}.sqlite3'}", desks, home)
            tb, one, other, slowest = result
            tracebacks += tb
            failed_trials += not one
            others += other
            spans.append(slowest)
            print(f"trial {trial + 1}: {tb} tracebacks, "
                  f"{'one supervisor' if one else 'NOT exactly one supervisor'}, "
                  f"{other} other failures, all answered in {slowest:.1f} s", file=sys.stderr)
    started = desks * trials
    return [
        Figure("tracebacks", tracebacks, started, f"of {started} desks started"),
        Figure("trials without exactly one supervisor", failed_trials, trials,
               f"of {trials} trials of {desks} desks"),
        Figure("desks failing otherwise", others, started, f"of {started} desks started"),
        Figure("all desks answered (s, mean)", sum(spans) / len(spans), len(spans),
               "s from release to the last answer (baseline: trials)"),
    ]
