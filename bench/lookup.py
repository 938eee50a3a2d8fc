"""Customer lookup in the running desk: keystroke to updated results.

Drives the real ``LookupScreen`` headless (Textual Pilot) on a demo database and types queries
one character at a time — so 1- and 2-character input is part of every query — waiting for each
keystroke's results before the next (the worst case: no result is skipped as stale). Latency is
from the key event reaching the app (sent through the driver, as a terminal would) to the moment
the results table has been refilled.

Baseline (same run): the bare service call ``customers.find`` for the same inputs, without the
UI. Target on 1M customers: keystroke p95 <= 20 ms.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from textual import events

from bench._demodb import demo_desk, sample
from bench.common import Figure, Options, desk_home, percentile, timed, workdir
from bench.queues import Arrivals
from helpdesk.services import customers
from helpdesk.services.context import Desk
from screens.lookup import RESULTS


def queries(desk: Desk, seed: int) -> list[str]:
    """What agents type: parts of real names, e-mails, companies, phones, plus common letters."""
    rows = sample(desk, "SELECT c.name, e.address, c.company, c.phone FROM customer c "
                        "JOIN customer_email e ON e.customer_id = c.id "
                        "WHERE c.id % 997 = 0 LIMIT :n", 40)
    rng = random.Random(seed)
    out = ["a", "e", "ma", "jo", "x"]
    for name, address, company, phone in rows:
        choice = rng.choice([v for v in (name, address, company, phone) if v])
        start = rng.randrange(max(1, len(choice) - 6))
        out.append(choice[start:start + rng.randint(3, 8)])
    return out


async def _measure_ui(desk: Desk, typed: list[str]) -> list[float]:
    from screens.app import DeskApp
    from screens.lookup import LookupScreen

    app = DeskApp(desk)
    samples: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press("slash")
        screen = app.screen
        assert isinstance(screen, LookupScreen)
        shown = Arrivals()
        original = screen._show

        def record(hits: Any, text: str) -> None:
            original(hits, text)
            shown.mark(text)

        screen._show = record  # type: ignore[method-assign]
        search = screen.query_one("#search")
        driver = app._driver
        assert driver is not None
        for query in typed:
            search.value = ""  # type: ignore[attr-defined]
            await pilot.pause()
            for i in range(1, len(query) + 1):
                text = query[:i].strip()
                shown.at.pop(text, None)
                char = query[i - 1]
                key = events.Key("space" if char == " " else char, char)
                key.set_sender(app)
                start = time.perf_counter()
                driver.send_message(key)  # as the terminal driver delivers a keystroke
                if text:
                    samples.append(await shown.since(text, start))
                await pilot.pause()
    return samples


def run(opts: Options) -> list[Figure]:
    with workdir(opts) as folder, desk_home(folder):
        desk = demo_desk(folder, opts)
        typed = queries(desk, opts.seed)
        prefixes = [q[:i].strip() for q in typed for i in range(1, len(q) + 1) if q[:i].strip()]
        service: list[float] = []
        ui: list[float] = []
        for _ in range(max(1, opts.repeat)):
            service += [timed(lambda p=p: customers.find(desk, p, limit=RESULTS)) for p in prefixes]
            ui += asyncio.run(_measure_ui(desk, typed))
        short = [p for p in prefixes if len(p) <= 2]
        short_service = [timed(lambda p=p: customers.find(desk, p, limit=RESULTS)) for p in short]
        desk.db.dispose()
    return [
        Figure("lookup keystroke p95 (UI, all inputs)", percentile(ui, 95) * 1000,
               percentile(service, 95) * 1000, "ms"),
        Figure("lookup keystroke p50 (UI, all inputs)", percentile(ui, 50) * 1000,
               percentile(service, 50) * 1000, "ms"),
        Figure("find() 1-2 char input p95 (service)", percentile(short_service, 95) * 1000,
               percentile(service, 95) * 1000, "ms"),
    ]
