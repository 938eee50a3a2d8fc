"""Memory after a working session: a scripted agent works the desk for ``--minutes`` (60 for
the hour-long run) on the demo database, in a process of its own, and its resident memory is
read from ``/proc/self/status`` at the start (first rows on screen) and at the end.

The script does what an agent does all day, as fast as the desk answers: switches queues and
pages down them, opens cases and scrolls their threads, looks customers up as they type and
opens profiles, goes back. Figures: RSS at the end and the peak, in MB, against the RSS right
after start (same process, same run). Target at 1M customers: <= 250 MB after an hour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench._demodb import demo_desk, demo_url, sample
from bench.common import Figure, Options, desk_home, workdir

SESSION = r"""
import asyncio, json, random, sys, time
from helpdesk.config import load_settings
from helpdesk.db.engine import open_database
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.main import QUEUES

url, agent, minutes, words = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])

def rss_mb(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0

async def settle(pilot):
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

async def main():
    desk = Desk(db=open_database(url), settings=load_settings(), actor_name=agent)
    app = DeskApp(desk)
    rng = random.Random(1)
    actions = 0
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        start_rss = rss_mb()
        end = time.monotonic() + 60 * minutes
        while time.monotonic() < end:
            main = app.screen
            main.select_queue(rng.choice(QUEUES).key)
            await settle(pilot)
            for _ in range(rng.randint(0, 3)):
                await pilot.press("G")
                await settle(pilot)
            await pilot.press("g", *["j"] * rng.randint(0, 8), "enter")
            await settle(pilot)
            await pilot.press(*["j"] * 5, "escape")
            await settle(pilot)
            word = rng.choice(words)
            await pilot.press("slash", *word)
            await settle(pilot)
            await pilot.press("down", "enter")
            await settle(pilot)
            await pilot.press("escape", "escape")
            await settle(pilot)
            while len(app.screen_stack) > 2:  # whatever was left open
                app.pop_screen()
                await settle(pilot)
            actions += 1
            if actions % 25 == 0:
                print(json.dumps({"round": actions, "rss": rss_mb()}), flush=True)
        print(json.dumps({"start": start_rss, "end": rss_mb(), "peak": rss_mb("VmHWM"),
                          "rounds": actions}))

asyncio.run(main())
"""


def run(opts: Options) -> list[Figure]:
    with workdir(opts) as folder, desk_home(folder):
        desk = demo_desk(folder, opts)
        rows = sample(desk, "SELECT name FROM customer WHERE id % 4999 = 0 LIMIT :n", 50)
        words = sorted({str(r[0]).split()[0][:5] for r in rows if r[0]})
        desk.db.dispose()
        from helpdesk import demo

        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        proc = subprocess.run(
            [sys.executable, "-c", SESSION, demo_url(folder, opts), demo.AGENTS[1][0],
             str(opts.minutes), json.dumps(words)],
            env=env, capture_output=True, text=True, timeout=opts.minutes * 60 + 600,
            check=False)
        if proc.returncode:
            raise RuntimeError(f"the session failed: {proc.stderr[-2000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    label = f"{opts.minutes:g}-minute session, {result['rounds']} rounds"
    return [
        Figure(f"RSS after a {label} (target <= 250)", result["end"], result["start"], "MB"),
        Figure(f"peak RSS in the {label}", result["peak"], result["start"], "MB"),
    ]
