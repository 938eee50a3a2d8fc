"""Queues and cases in the running desk: first rows of each queue, and opening a case.

Drives the real ``MainScreen`` and ``CaseScreen`` headless (Textual Pilot) on a demo database,
acting as a demo agent. "First rows" is from choosing the queue to the first screen refresh
after its first page is in the table; "case open" is from asking for the case (as Enter on a
row does) to the first refresh after the case view, with its thread and history, is on top.

Baselines (same run): the bare service calls (``cases.list_queue`` first page, ``cases.get``)
without the UI. Targets on 1M customers: queue first rows p95 <= 50 ms; case open p95 <= 50 ms.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench._demodb import demo_desk, sample
from bench.common import Figure, Options, desk_home, percentile, timed, workdir
from helpdesk.services import cases
from helpdesk.services.context import Desk
from screens.main import FIRST_PAGE, QUEUES


class Arrivals:
    """When each awaited thing landed; waiting sleeps (no busy loop stealing the UI thread)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.event = asyncio.Event()

    def mark(self, key: str) -> None:
        self.at[key] = time.perf_counter()
        self.event.set()

    async def since(self, key: str, start: float) -> float:
        while key not in self.at:
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), timeout=10)
        return self.at.pop(key) - start


async def _measure_ui(desk: Desk, case_ids: list[int], rounds: int) -> dict[str, list[float]]:
    from screens.app import DeskApp
    from screens.case import CaseScreen
    from screens.main import MainScreen

    app = DeskApp(desk)
    out: dict[str, list[float]] = {spec.key: [] for spec in QUEUES}
    out["case"] = []
    done = Arrivals()

    loaded = MainScreen.on_list_table_loaded

    def page_shown(self: MainScreen, event: Any) -> None:
        loaded(self, event)
        self.call_after_refresh(done.mark, self.spec.key)

    def case_shown(self: CaseScreen) -> None:  # runs besides DeskScreen's own handler
        self.call_after_refresh(done.mark, "case")

    MainScreen.on_list_table_loaded = page_shown  # type: ignore[method-assign]
    CaseScreen.on_screen_resume = case_shown  # type: ignore[attr-defined]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            main = app.screen
            assert isinstance(main, MainScreen)
            for _ in range(rounds):
                for spec in (*QUEUES[1:], QUEUES[0]):  # the app starts on the first one
                    done.at.clear()
                    start = time.perf_counter()
                    main.select_queue(spec.key)
                    out[spec.key].append(await done.since(spec.key, start))
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                for case_id in case_ids:
                    start = time.perf_counter()
                    app.open_case(case_id)
                    out["case"].append(await done.since("case", start))
                    await app.workers.wait_for_complete()
                    await pilot.press("escape")
                    await pilot.pause()
    finally:
        MainScreen.on_list_table_loaded = loaded  # type: ignore[method-assign]
        del CaseScreen.on_screen_resume  # type: ignore[attr-defined]
    return out


def run(opts: Options) -> list[Figure]:
    with workdir(opts) as folder, desk_home(folder):
        desk = demo_desk(folder, opts)
        # Cases with the longest threads among a spread sample, and some ordinary ones.
        case_ids = [r[0] for r in sample(
            desk, "SELECT case_id FROM message WHERE case_id % 53 = 0 GROUP BY case_id "
                  "ORDER BY count(*) DESC LIMIT :n", 10)]
        case_ids += [r[0] for r in sample(desk, "SELECT id FROM support_case "
                                                "WHERE id % 101 = 0 LIMIT :n", 10)]
        rounds = max(1, opts.repeat)
        service: dict[str, list[float]] = {spec.key: [] for spec in QUEUES}
        service["case"] = []
        for _ in range(rounds):
            for spec in QUEUES:
                service[spec.key].append(timed(lambda s=spec: cases.list_queue(
                    desk, s.queue, limit=FIRST_PAGE, stage=s.stage)))
            service["case"] += [timed(lambda c=c: cases.get(desk, c)) for c in case_ids]
        ui = asyncio.run(_measure_ui(desk, case_ids, rounds))
        desk.db.dispose()
    figures = [
        Figure(f"queue first rows: {spec.label.strip()} (p95)", percentile(ui[spec.key], 95) * 1000,
               percentile(service[spec.key], 95) * 1000, "ms")
        for spec in QUEUES
    ]
    figures.append(Figure("case open (p95)", percentile(ui["case"], 95) * 1000,
                          percentile(service["case"], 95) * 1000, "ms"))
    return figures
