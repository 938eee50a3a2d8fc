"""Reports screen: the desk's figures and a chart per month or per week.

Keys: ``f`` focuses the date range (From / To, YYYY-MM-DD, blank for open-ended; Enter applies),
``p`` switches the series between months and weeks, ``u`` reloads, Escape goes back. The
figures come from :func:`helpdesk.services.reports.report` (the same numbers as ``helpdesk
report``: on time against the deadline the rules set, legal rules included), loaded in a
thread worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Sparkline, Static

from helpdesk.errors import Invalid
from helpdesk.services import parsing
from helpdesk.wording import counted
from screens.base import DeskScreen
from screens.registry import lazy_module
from screens.text import cell, lit
from screens.widgets import ListColumn, ListTable, Row, focus_now

if TYPE_CHECKING:
    from helpdesk.services import reports
else:  # loaded when the reports are first opened, not when the desk starts
    reports = lazy_module("helpdesk.services.reports")


def pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


KIND_COLUMNS = (
    ListColumn("kind", "Kind", 24, priority=0),
    ListColumn("received", "Received", 8, priority=0),
    ListColumn("open", "Open", 6, priority=0),
    ListColumn("closed", "Closed", 6, priority=1),
    ListColumn("on_time", "On time", 7, priority=0),
    ListColumn("median", "Median days", 11, priority=2),
    ListColumn("p90", "P90 days", 8, priority=2),
    ListColumn("breaches", "Open breaches", 13, priority=0),
    ListColumn("late", "Closed late", 11, priority=1),
)
AGENT_COLUMNS = (
    ListColumn("agent", "Agent", 24, priority=0, flex=True),
    ListColumn("open", "Open", 6, priority=0),
    ListColumn("overdue", "Overdue", 7, priority=0),
    ListColumn("closed", "Closed", 6, priority=1),
)


def days(value: float | int | None) -> str:
    return "-" if value is None else f"{value:g}"


def kind_row(k: reports.KindFigures) -> Row:
    c = k.closing
    return k.kind.value, (
        cell(k.kind.label), cell(k.received), cell(k.still_open), cell(c.closed),
        cell(pct(c.on_time_rate)), cell(days(c.median_days_to_close)),
        cell(days(c.p90_days_to_close)),
        cell(k.open_breaches, "bold red" if k.open_breaches else ""),
        cell(c.breaches, "red" if c.breaches else ""),
    )


CHART_WIDTH = 30


def chart(series: tuple[reports.PeriodFigures, ...], monthly: bool) -> Text:
    """Two bars per period: cases received (█) and deadlines that passed unmet in it (▒, red;
    each late case counts once, in the period its deadline passed), with the on-time rate of
    the cases closed in it."""
    if not series:
        return Text("No cases in this range.")
    top = max(max(p.received, p.missed) for p in series) or 1
    out = Text()
    for p in series:
        label = p.start.strftime("%Y-%m") if monthly else p.start.isoformat()
        out.append(f"{label:<10} ")
        out.append("█" * round(CHART_WIDTH * p.received / top), "green")
        out.append(f" {p.received} received; closed {p.closing.closed}, on time "
                   f"{pct(p.closing.on_time_rate)}\n{'':<10} ")
        out.append("▒" * round(CHART_WIDTH * p.missed / top), "bold red")
        out.append(f" {counted(p.missed, 'deadline')} missed\n")
    out.rstrip()
    return out


def agent_row(a: reports.AgentFigures) -> Row:
    return a.agent_name, (cell(a.display_name), cell(a.open_cases), cell(a.overdue),
                          cell(a.closed))


class ReportsScreen(DeskScreen[None]):
    DEFAULT_CSS = """
    ReportsScreen #range { height: 3; }
    ReportsScreen #range Input { width: 18; }
    ReportsScreen #range Label { padding: 1 1 0 1; }
    ReportsScreen Sparkline { height: 3; margin: 0 1; }
    ReportsScreen .caption { padding: 0 1; color: $text-muted; }
    ReportsScreen #kinds { height: auto; max-height: 14; }
    """
    FOCUS = "#kinds"  # not the date field: letters stay keys
    BINDINGS = [
        Binding("f", "focus_range", "Date range", id="reports.range"),
        Binding("u", "reload", "Reload", id="reports.reload"),
        Binding("p", "period", "Months/weeks", id="reports.period"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: reports.Report | None = None
        self.monthly = True

    def compose(self) -> ComposeResult:
        with Horizontal(id="range"):
            yield Label("From")
            yield Input(placeholder="YYYY-MM-DD", id="start")
            yield Label("To")
            yield Input(placeholder="YYYY-MM-DD", id="end")
        with VerticalScroll():
            yield Static("Loading…", id="summary")
            yield Label("Cases per month", classes="caption", id="chart-caption")
            yield Static("", id="chart")
            yield Label("Cases received per month", classes="caption", id="volume-caption")
            yield Sparkline([], id="volume")
            yield Label("On-time rate of cases closed per month", classes="caption",
                        id="ontime-caption")
            yield Sparkline([], id="ontime")
            yield ListTable(KIND_COLUMNS, kind_row, id="kinds")
            yield Static("", id="stages")
            yield ListTable(AGENT_COLUMNS, agent_row, id="agents")

    def on_mount(self) -> None:
        self.action_reload()

    def action_period(self) -> None:
        self.monthly = not self.monthly
        if self.report is not None:
            self._show(self.report)

    def action_focus_range(self) -> None:
        focus_now(self.query_one("#start", Input))

    @on(Input.Submitted)
    def _apply_range(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        try:
            start, end = (parsing.day(self.query_one(f"#{name}", Input).value, field=name,
                                      label=label) for name, label in (("start", "From"),
                                                                       ("end", "To")))
        except Invalid as exc:
            self.desk_app.show_error(exc)
            return
        self.load("report", lambda: reports.report(self.desk, start=start, end=end), self._show)

    def _show(self, r: reports.Report) -> None:
        self.report = r
        c = r.closing
        self.query_one("#summary", Static).update(lit(
            f"{r.start or 'beginning'} to {r.end or 'today'} ({r.timezone})\n"
            f"Received {r.received} · closed {c.closed} · on time {pct(c.on_time_rate)} · "
            f"median days to close {days(c.median_days_to_close)} · 90% within "
            f"{days(c.p90_days_to_close)} days · breaches: {r.open_breaches} open, "
            f"{r.closed_breaches} closed late\n"
            "On time: before the deadline the rules set (policy version or stricter legal "
            "rule); an override does not count."
        ))
        series = r.months if self.monthly else r.weeks
        unit = "month" if self.monthly else "week"
        first = series[0].start if series else "-"
        last = series[-1].start if series else "-"
        self.query_one("#chart-caption", Label).update(
            f"Cases per {unit}, {first} … {last} (p: {'weeks' if self.monthly else 'months'})")
        self.query_one("#chart", Static).update(chart(series, self.monthly))
        self.query_one("#volume-caption", Label).update(
            f"Cases received per {unit} (max {max((p.received for p in series), default=0)})")
        self.query_one("#volume", Sparkline).data = [float(p.received) for p in series]
        # Periods with nothing closed have no rate; they are left out of the on-time line.
        rates = [p.closing.on_time_rate for p in series if p.closing.on_time_rate is not None]
        self.query_one("#ontime-caption", Label).update(
            f"On-time rate of cases closed per {unit} ({len(rates)} {unit}s with closures; "
            f"latest {pct(rates[-1]) if rates else '-'})")
        self.query_one("#ontime", Sparkline).data = [100 * rate for rate in rates]
        self.query_one("#kinds", ListTable).set_items(
            k for k in r.kinds if k.received or k.closing.closed)
        self.query_one("#stages", Static).update(lit(
            "Disputes by stage: "
            + ", ".join(f"{stage.replace('_', ' ')} {n}" for stage, n in
                        r.disputes_by_stage.items())))
        agents = self.query_one("#agents", ListTable)
        agents.set_items(r.agents)
        agents.display = bool(r.agents)
