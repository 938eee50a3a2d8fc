"""Workload view (supervisors): open work per agent, and reassigning a selection of cases.

Keys: the list keys move, Enter on an agent lists their open cases, space marks a case, ``a``
marks all (again: none), ``r`` reassigns the marked cases (or the highlighted one) after asking
for the agent and a reason, ``u`` reloads, Escape goes back. The services enforce the role: an
agent who gets here is told so by the refusal the first load brings back.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label

from helpdesk.services import supervisor
from helpdesk.services.readmodels import CaseSummary
from screens.base import DeskChanged, DeskScreen
from screens.dialogs import Field, FormDialog, FormValues
from screens.registry import DeskCommand, register
from screens.text import cell, days_left_text, lit, urgency
from screens.widgets import ListColumn, ListTable, Row

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
    name = r.agent_name or UNASSIGNED
    return name, (
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
        self.agent_names: list[str] = []

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
            cell(c.customer_name), cell(c.dispute_stage.value if c.dispute_stage else ""),
            cell(str(c.due_date)), cell(days_left_text(c.days_left, c.overdue), style),
            cell(c.warning or "", "yellow" if c.warning else ""),
        )

    # --- loading ---------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load("workload", lambda: supervisor.workload(self.desk), self._show_agents)
        if self.listing:
            self._load_cases(self.agent)

    def desk_changed(self, event: DeskChanged) -> None:
        if event.kind in {"case", "agent"}:
            self.action_reload()

    def _show_agents(self, rows: tuple[supervisor.AgentLoad, ...]) -> None:
        self.agent_names = [r.agent_name for r in rows if r.agent_name and r.active]
        table = self.query_one("#agents", ListTable)
        table.set_items(rows)
        if not self.listing:
            table.focus()

    @on(DataTable.RowSelected, "#agents")
    def _agent_chosen(self, event: DataTable.RowSelected) -> None:
        name = str(event.row_key.value)
        self.marked.clear()
        self._load_cases(None if name == UNASSIGNED else name)
        self._cases_table.focus()

    def _load_cases(self, agent: str | None) -> None:
        self.agent, self.listing = agent, True
        self.load("workload-cases", lambda: supervisor.agent_cases(self.desk, agent=agent),
                  self._show_cases)

    def _show_cases(self, items: tuple[CaseSummary, ...]) -> None:
        self.marked &= {c.id for c in items}
        self.query_one("#cases-title", Label).update(
            lit(f"Open cases of {self.agent or UNASSIGNED}: {len(items)}"))
        self._cases_table.set_items(items)

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

    def action_mark_all(self) -> None:
        if self._focused_case() is None:
            return
        everything = {c.id for c in self.cases}
        self.marked = set() if self.marked == everything else everything
        for c in self.cases:
            self._cases_table.redraw(str(c.id))

    def action_reassign(self) -> None:
        chosen = [c for c in self.cases if c.id in self.marked]
        current = self._focused_case()
        if not chosen and current is not None:
            chosen = [current]
        if not chosen:
            self.notify("Choose an agent (Enter), then mark cases with space.",
                        severity="warning")
            return
        versions = {c.id: c.version for c in chosen}
        desk = self.desk

        def submit(v: FormValues) -> tuple[CaseSummary, ...]:
            return supervisor.reassign(desk, case_ids=list(versions), assignee=v["assignee"],
                                       reason=v["reason"], expected_versions=versions)

        def done(moved: tuple[CaseSummary, ...] | None) -> None:
            if moved is not None:
                self.marked.clear()
                self.notify(f"Reassigned {len(moved)} case(s).", markup=False)

        self.app.push_screen(FormDialog(
            f"Reassign {len(chosen)} case(s) to",
            [Field.text("assignee", "Agent login name"), Field.text("reason", "Reason (required)")],
            submit, name="workload.reassign", reload=self.action_reload,
            hint="Agents: " + ", ".join(self.agent_names)), done)


register(DeskCommand(
    id="workload.open", title="Workload", help="Open work per agent; reassign cases",
    key="W", open=lambda app: app.push_screen(WorkloadScreen()), supervisor_only=True,
))
