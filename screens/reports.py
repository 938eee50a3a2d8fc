"""Reports screen: the desk's figures and a weekly volume / on-time chart.

Keys: ``f`` focuses the date range (From / To, YYYY-MM-DD, blank for open-ended; Enter applies),
``u`` reloads, Escape goes back. The figures come from :func:`helpdesk.services.reports.report`
(the same numbers as ``helpdesk report``), loaded in a thread worker.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Sparkline, Static

from helpdesk.errors import Invalid
from helpdesk.services import parsing, reports
from screens.base import DeskScreen
from screens.registry import DeskCommand, register
from screens.text import cell, lit
from screens.widgets import ListColumn, ListTable, Row


def pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


KIND_COLUMNS = (
    ListColumn("kind", "Kind", 24, priority=0),
    ListColumn("received", "Received", 8, priority=0),
    ListColumn("open", "Open", 6, priority=0),
    ListColumn("closed", "Closed", 6, priority=1),
    ListColumn("on_time", "On time", 7, priority=0),
    ListColumn("median", "Median days", 11, priority=2),
    ListColumn("breaches", "Breaches", 8, priority=0),
)
AGENT_COLUMNS = (
    ListColumn("agent", "Agent", 24, priority=0, flex=True),
    ListColumn("open", "Open", 6, priority=0),
    ListColumn("overdue", "Overdue", 7, priority=0),
    ListColumn("closed", "Closed", 6, priority=1),
)


def kind_row(k: reports.KindFigures) -> Row:
    median = k.closing.median_days_to_close
    return k.kind.value, (
        cell(k.kind.label), cell(k.received), cell(k.still_open), cell(k.closing.closed),
        cell(pct(k.closing.on_time_rate)), cell("-" if median is None else median),
        cell(k.open_breaches, "bold red" if k.open_breaches else ""),
    )


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
    AUTO_FOCUS = "#kinds"  # not the date field: letters stay keys
    BINDINGS = [
        Binding("f", "focus_range", "Date range", id="reports.range"),
        Binding("u", "reload", "Reload", id="reports.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: reports.Report | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="range"):
            yield Label("From")
            yield Input(placeholder="YYYY-MM-DD", id="start")
            yield Label("To")
            yield Input(placeholder="YYYY-MM-DD", id="end")
        with VerticalScroll():
            yield Static("Loading…", id="summary")
            yield Label("Cases received per week", classes="caption", id="volume-caption")
            yield Sparkline([], id="volume")
            yield Label("On-time rate of cases closed per week", classes="caption",
                        id="ontime-caption")
            yield Sparkline([], id="ontime")
            yield ListTable(KIND_COLUMNS, kind_row, id="kinds")
            yield Static("", id="stages")
            yield ListTable(AGENT_COLUMNS, agent_row, id="agents")

    def on_mount(self) -> None:
        self.action_reload()

    def action_focus_range(self) -> None:
        self.query_one("#start", Input).focus()

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
            f"median days to close "
            f"{'-' if c.median_days_to_close is None else c.median_days_to_close} · "
            f"open breaches {r.open_breaches}"
        ))
        weeks = r.weeks
        first = weeks[0].week_start if weeks else "-"
        last = weeks[-1].week_start if weeks else "-"
        self.query_one("#volume-caption", Label).update(
            f"Cases received per week, {first} … {last} "
            f"(max {max((w.received for w in weeks), default=0)})")
        self.query_one("#volume", Sparkline).data = [float(w.received) for w in weeks]
        # Weeks with nothing closed have no rate; they are left out of the on-time line.
        rates = [w.closing.on_time_rate for w in weeks if w.closing.on_time_rate is not None]
        self.query_one("#ontime-caption", Label).update(
            f"On-time rate of cases closed per week ({len(rates)} weeks with closures; "
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


register(DeskCommand(
    id="reports.open", title="Reports", help="Volume, on-time rate, breaches, weekly chart",
    key="R", open=lambda app: app.push_screen(ReportsScreen()),
))
