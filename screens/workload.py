"""Workload view (supervisors): open work per agent, and reassigning a selection of cases.

Keys: the list keys move, Enter on an agent lists their open cases, space marks a case, ``a``
marks all of them — every open case of that agent, also those not loaded yet (again: none) —,
``r`` reassigns the marked cases (or the highlighted one) after asking for the agent (picked
by name) and a reason, ``u`` reloads, Escape goes back. The services enforce the role: an
agent who gets here is told so by the refusal the first load brings back.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Label

from helpdesk.services import supervisor
from helpdesk.services.readmodels import CaseSummary
from helpdesk.wording import counted
from screens.base import DeskChanged, DeskScreen
from screens.dialogs import Field, FormDialog, FormValues
from screens.text import cell, days_left_text, lit, urgency
from screens.widgets import ListColumn, ListTable, Row, focus_now

UNASSIGNED = "(unassigned)"
MARK = "✓"

AGENT_COLUMNS = (
    ListColumn("agent", "Agent", 20, priority=0, flex=True),
    ListColumn("role", "Role", 10, priority=3),
    ListColumn("open", "Open", 5, priority=0),
    ListColumn("disputes", "Disputes", 8, priority=2),
    ListColumn("due_soon", "Due ≤7d", 7, priority=1),
    ListColumn("overdue", "Overdue", 7, priority=0),
    ListColumn("warnings", "Warnings", 8, priority=2),
    ListColumn("escalated", "Escalated", 9, priority=2),
)

CASE_COLUMNS = (
    ListColumn("mark", " ", 1, priority=0),
    ListColumn("case", "Case", 7, priority=0),
    ListColumn("kind", "Kind", 12, priority=2),
    ListColumn("customer", "Customer", 16, priority=1, flex=True),
    ListColumn("stage", "Stage", 14, priority=3),
    ListColumn("due", "Due", 10, priority=2),
    ListColumn("left", "Days left", 11, priority=0),
    ListColumn("warning", "Warning", 7, priority=3),
)


def agent_row(r: supervisor.AgentLoad) -> Row:
    name = r.display_name or UNASSIGNED
    return r.agent_name or UNASSIGNED, (
        cell(name if r.active else f"{name} (inactive)"), cell(r.role.value if r.role else ""),
        cell(r.open_cases), cell(r.open_disputes), cell(r.due_soon),
        cell(r.overdue, "bold red" if r.overdue else ""),
        cell(r.dispute_warnings, "yellow" if r.dispute_warnings else ""), cell(r.escalated),
    )


class WorkloadScreen(DeskScreen[None]):
    """Agents at the top, the chosen agent's open cases below, most urgent first."""

    DEFAULT_CSS = """
    WorkloadScreen #agents { height: 40%; }
    WorkloadScreen #cases { height: 1fr; }
    WorkloadScreen Label { padding: 0 1; text-style: bold; }
    """
    FOCUS = "#agents"
    BINDINGS = [
        Binding("space", "mark", "Mark", id="workload.mark"),
        Binding("a", "mark_all", "Mark all", id="workload.mark_all"),
        Binding("r", "reassign", "Reassign", id="workload.reassign"),
        Binding("u", "reload", "Reload", id="workload.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.agent: str | None = None  # whose cases are listed (None: the unassigned pile)
        self.listing = False
        self.marked: set[int] = set()
        self.loads: dict[str | None, supervisor.AgentLoad] = {}

    def compose(self) -> ComposeResult:
        yield Label("Workload")
        yield ListTable(AGENT_COLUMNS, agent_row, id="agents")
        yield Label("Open cases: Enter on an agent", id="cases-title")
        yield ListTable(CASE_COLUMNS, self._case_row, id="cases")

    def on_mount(self) -> None:
        self.action_reload()

    @property
    def cases(self) -> tuple[CaseSummary, ...]:
        return tuple(self._cases_table.items.values())

    @property
    def _cases_table(self) -> ListTable[CaseSummary]:
        return self.query_one("#cases", ListTable)

    def _case_row(self, c: CaseSummary) -> Row:
        style = urgency(c.days_left, c.overdue) or ("yellow" if c.warning else "")
        return str(c.id), (
            cell(MARK if c.id in self.marked else " "), cell(f"#{c.id}"), cell(c.kind.label),
            cell(c.customer_name), cell(c.dispute_stage.label if c.dispute_stage else ""),
            cell(str(c.due_date)), cell(days_left_text(c.days_left, c.overdue), style),
            cell(c.warning or "", "yellow" if c.warning else ""),
        )

    # --- loading ---------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load("workload", lambda: supervisor.workload(self.desk), self._show_agents)
        if self.listing:
            self._cases_table.refresh_rows()

    def desk_changed(self, event: DeskChanged) -> None:
        if event.kind in {"case", "agent"}:
            self.action_reload()

    def _show_agents(self, rows: tuple[supervisor.AgentLoad, ...]) -> None:
        self.loads = {r.agent_name: r for r in rows}
        self.query_one("#agents", ListTable).set_items(rows)
        if self.listing:
            self._show_title()

    @on(ListTable.RowSelected, "#agents")
    def _agent_chosen(self, event: ListTable.RowSelected) -> None:
        name = event.row_key
        self.marked.clear()
        self._load_cases(None if name == UNASSIGNED else name)
        focus_now(self._cases_table)

    def _load_cases(self, agent: str | None) -> None:
        self.agent, self.listing = agent, True
        desk = self.desk
        self._cases_table.show(lambda cursor, limit: supervisor.agent_cases(
            desk, agent=agent, cursor=cursor, limit=limit))
        self._show_title()

    def _show_title(self) -> None:
        load = self.loads.get(self.agent)
        who = (load.display_name if load else None) or self.agent or UNASSIGNED
        total = counted(load.open_cases, "open case") if load else "open cases"
        marked = f" · {len(self.marked):,} marked" if self.marked else ""
        self.query_one("#cases-title", Label).update(lit(f"{who}: {total}{marked}"))

    # --- selection and reassignment --------------------------------------------------------

    def _focused_case(self) -> CaseSummary | None:
        table = self._cases_table
        return table.current if self.focused is table else None

    def action_mark(self) -> None:
        case = self._focused_case()
        if case is None:
            return
        self.marked ^= {case.id}
        table = self._cases_table
        table.redraw(str(case.id))
        table.action_cursor_down()
        self._show_title()

    def action_mark_all(self) -> None:
        """Every open case of the agent listed, loaded or not (again: none)."""
        if self._focused_case() is None:
            return
        desk, agent = self.desk, self.agent
        self.load("mark-all", lambda: supervisor.agent_case_ids(desk, agent=agent),
                  self._mark_all)

    def _mark_all(self, ids: tuple[int, ...]) -> None:
        everything = set(ids)
        self.marked = set() if everything <= self.marked else everything
        for key in self._cases_table.row_keys():
            self._cases_table.redraw(key)
        self._show_title()

    def action_reassign(self) -> None:
        loaded = {c.id: c for c in self.cases}
        chosen = sorted(self.marked)
        current = self._focused_case()
        if not chosen and current is not None:
            chosen = [current.id]
        if not chosen:
            self.notify("Choose an agent (Enter), then mark cases with space.",
                        severity="warning")
            return
        # What was seen carries its version; marked rows not loaded yet move as they are.
        versions = {cid: loaded[cid].version for cid in chosen if cid in loaded}
        desk = self.desk

        def submit(v: FormValues) -> tuple[CaseSummary, ...]:
            return supervisor.reassign(desk, case_ids=chosen, assignee=v["assignee"] or None,
                                       reason=v["reason"], expected_versions=versions)

        def done(moved: tuple[CaseSummary, ...] | None) -> None:
            if moved is not None:
                self.marked.clear()
                self._show_title()
                self.notify(f"Reassigned {counted(len(moved), 'case')}.", markup=False)

        agents = [(r.display_name or r.agent_name, r.agent_name)
                  for r in self.loads.values()
                  if r.agent_name and r.active and r.agent_name != self.agent]
        self.app.push_screen(FormDialog(
            f"Reassign {counted(len(chosen), 'case')} to",
            [Field.choice("assignee", "Agent", [*agents, ("nobody (unassigned)", "")]),
             Field.text("reason", "Reason (required)")],
            submit, name="workload.reassign", reload=self.action_reload), done)
