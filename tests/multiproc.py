"""Several desk processes released at the same instant: the harness of the team tests.

Each process is a real Python interpreter that loads the ``helpdesk`` command line, says it is
ready, waits until every other process is ready too, then runs its list of commands one after
the other through ``helpdesk.cli.main`` (each opens its own desk, as a separate ``helpdesk`` call
would). A command is the agent to act as (set in-process, as tests do) and the command line.
Exit code, output and any traceback are reported per command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_LAUNCHER = r"""
import contextlib, io, json, sys, time, traceback
from helpdesk.cli import build_parser, main
build_parser()  # load every command module before the start
print("ready", flush=True)
sys.stdin.readline()
results = []
for agent, argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv, agent=agent)
        except BaseException:
            code = -1
            err.write(traceback.format_exc())
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue(),
                    "seconds": time.perf_counter() - start})
print(json.dumps(results), flush=True)
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one command line did: exit code (-1 when an exception escaped), stdout, stderr,
    and how long it took."""

    code: int
    out: str
    err: str
    seconds: float = 0.0

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.err


#: One command of a script: the agent to act as, and the command line.
Command = tuple[str, Sequence[str]]


def run_together(
    scripts: Sequence[Sequence[Command]],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> list[list[Outcome]]:
    """Start one process per script, release them together, return each one's outcomes.

    A process that dies (or prints a traceback outside a command) fails loudly with its stderr.
    """
    environment = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER,
             json.dumps([[agent, list(argv)] for agent, argv in script])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=environment,
        )
        for script in scripts
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise AssertionError(f"a desk process did not start: {proc.communicate()[1]}")
        for proc in procs:  # the start line: every process is waiting on its stdin
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            if proc.returncode != 0 or not out.strip():
                raise AssertionError(f"a desk process died ({proc.returncode}): {err}")
            results.append([Outcome(**r) for r in json.loads(out.strip().splitlines()[-1])])
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
