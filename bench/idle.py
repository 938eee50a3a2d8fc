"""An idle desk's CPU: ``helpdesk`` on a real pseudo-terminal, left alone once its first screen
is up (the change watcher polling, nothing pressed), against a bare Textual app on the same
kind of terminal for the same time, in the same run.

Each runs in its own process with a pty as its terminal (the Linux driver, as an agent's
terminal would run it); CPU is read from ``/proc/PID/stat`` (user + system, all threads) over
``IDLE_SECONDS`` after a settling pause. Figures are percent of one core. Target: desk < 1%.

The second figure is the same watch after a burst of keys typed faster than the desk answers
(``BURST``: j held down through the first queue's pages, then through the queue list, which
loads each queue it passes): what they started must finish and leave the desk idle again.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from bench._demodb import demo_desk, demo_url
from bench.common import Figure, Options, desk_home, workdir

#: Seconds watched (after SETTLE seconds for start-up and the first rows).
IDLE_SECONDS = 30
SETTLE = 8
#: j held down in the case list, Tab to the queues, j held down there, Tab back.
BURST = b"j" * 300 + b"\t" + b"j" * 15 + b"\t"

BARE = """
import sqlmodel  # noqa: F401
from textual.app import App
from textual.widgets import DataTable, Static

class Bare(App):
    def compose(self):
        yield Static("bare")
        yield DataTable()

Bare().run()
"""

DESK = """
import sys
from helpdesk.cli import main
sys.exit(main(sys.argv[2:], agent=sys.argv[1]))
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(code: str, *args: str, seconds: float, keys: bytes = b"") -> float:
    """Percent of a core that ``code`` uses while left alone on a 120x36 pseudo-terminal
    (after ``keys``, typed at once, and another settling pause)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env.pop("TEXTUAL_DRIVER", None)
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdin=slave, stdout=slave,
                            stderr=slave, env=env, start_new_session=True, close_fds=True)
    os.close(slave)
    stop = threading.Event()

    def drain() -> None:  # a terminal reads what the app writes; otherwise it would block
        while not stop.is_set():
            try:
                if not os.read(master, 65536):
                    return
            except OSError:
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        time.sleep(SETTLE)
        if proc.poll() is not None:
            raise RuntimeError(f"the program exited early ({proc.returncode})")
        if keys:
            os.write(master, keys)
            time.sleep(SETTLE)
        before, start = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        used, spent = _cpu_seconds(proc.pid) - before, time.monotonic() - start
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)
    return 100 * used / spent


def run(opts: Options) -> list[Figure]:
    seconds = max(10, IDLE_SECONDS * opts.repeat // 5)
    with workdir(opts) as folder, desk_home(folder):
        demo_desk(folder, opts).db.dispose()
        from helpdesk import demo

        desk_args = (demo.AGENTS[1][0], "--db", demo_url(folder, opts))
        figures = []
        for label, keys in (("", b""), (" after a burst of keys", BURST)):
            bare = _idle_cpu(BARE, seconds=seconds, keys=keys)
            desk = _idle_cpu(DESK, *desk_args, seconds=seconds, keys=keys)
            figures.append(Figure(f"idle CPU over {seconds}s{label} (% of a core; target < 1)",
                                  desk, bare, "%"))
    return figures
