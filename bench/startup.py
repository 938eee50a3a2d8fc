"""Start to first interactive screen: ``helpdesk`` (the real CLI entry point) against a bare
Textual app that imports sqlmodel, each in a fresh Python process, alternating, same run.

Both run Textual's headless driver (``TEXTUAL_DRIVER``), so no terminal is needed. "Interactive"
is the first refresh after the first screen has mounted: keys work from there. The desk also
reports when the first queue rows arrived (they load in a worker after that). Median of
``--repeat`` runs (at least 5). Target: desk <= 1.3x the bare app.

Both start from compiled modules, as installed programs do: the bare app's libraries come
compiled with their packages, and the desk's own packages are compiled here first (a source
checkout run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile every module of
the desk at every start, which an installed desk never does).
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._demodb import demo_desk, demo_url
from bench.common import Figure, Options, desk_home, workdir

HEADLESS = "textual.drivers.headless_driver:HeadlessDriver"

BARE = """
import time
import sqlmodel  # noqa: F401  (the baseline pays for the ORM import too)
from textual.app import App
from textual.widgets import DataTable, Static

class Bare(App):
    def compose(self):
        yield Static("bare")
        yield DataTable()

    def on_mount(self):
        self.call_after_refresh(self.ready)

    def ready(self):
        print("interactive", time.time(), flush=True)
        self.exit()

Bare().run()
"""

DESK = """
import sys, time
from screens.main import MainScreen

mount, loaded = MainScreen.on_mount, MainScreen.on_list_table_loaded

def on_mount(self):
    mount(self)
    self.call_after_refresh(lambda: print("interactive", time.time(), flush=True))

def rows(self, event):
    loaded(self, event)
    print("rows", time.time(), flush=True)
    self.app.exit()

MainScreen.on_mount, MainScreen.on_list_table_loaded = on_mount, rows
from helpdesk.cli import main
sys.exit(main(sys.argv[2:], agent=sys.argv[1]))  # in-process: act as a demo agent
"""


ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "TEXTUAL_DRIVER": HEADLESS, "PYTHONPATH": str(ROOT)}
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    marks = {}
    for line in proc.stdout.splitlines():
        name, _, at = line.partition(" ")
        try:
            marks[name] = float(at) - start
        except ValueError:
            continue
    if "interactive" not in marks:
        raise RuntimeError(f"startup run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return marks


def run(opts: Options) -> list[Figure]:
    with workdir(opts) as folder, desk_home(folder):
        demo_desk(folder, opts).db.dispose()
        from helpdesk import demo

        args = (demo.AGENTS[1][0], "--db", demo_url(folder, opts))
        bare: list[float] = []
        desk: list[float] = []
        rows: list[float] = []
        for package in ("helpdesk", "screens"):
            compileall.compile_dir(ROOT / package, quiet=1)
        _run(BARE), _run(DESK, *args)  # warm the OS file cache for both
        for _ in range(max(5, opts.repeat)):
            bare.append(_run(BARE)["interactive"])
            marks = _run(DESK, *args)
            desk.append(marks["interactive"])
            rows.append(marks.get("rows", float("nan")))
    base = statistics.median(bare) * 1000
    return [
        Figure("start to interactive (median)", statistics.median(desk) * 1000, base, "ms"),
        Figure("start to first queue rows (median)", statistics.median(rows) * 1000, base, "ms"),
    ]
