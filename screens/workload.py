"""Workload view (supervisors): open work per agent, and reassigning a selection of cases.

Keys: arrows or j/k move, Enter on an agent lists their open cases, space marks a case, ``a``
marks all (again: none), ``r`` reassigns the marked cases (or the highlighted one) after asking
for the agent and a reason, ``u`` reloads, Escape goes back. The services enforce the role: an
agent who gets here is told so by the refusal the first load brings back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, Label, Static

from helpdesk.services import supervisor
from helpdesk.services.readmodels import CaseSummary
from screens.base import DeskModal, DeskScreen
from screens.registry import DeskCommand, register
from screens.text import cell, days_left_text, lit, urgency

UNASSIGNED = "(unassigned)"
MARK = "✓"


@dataclass(frozen=True, slots=True)
class ReassignRequest:
    assignee: str
    reason: str


class ReassignDialog(DeskModal[ReassignRequest | None]):
    """Whom to give the marked cases to, and why. Enter moves on, Ctrl+S saves, Escape cancels."""

    DEFAULT_CSS = """
    ReassignDialog { align: center middle; }
    ReassignDialog > Vertical {
        width: 72; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    ReassignDialog #error { color: $error; }
    """
    BINDINGS = [Binding("ctrl+s", "save", "Reassign", id="workload.reassign.save")]

    def __init__(self, count: int, agents: list[str]) -> None:
        super().__init__()
        self.count = count
        self.agents = agents

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Reassign {self.count} case(s) to")
            yield Static(lit("Agents: " + ", ".join(self.agents)))
            yield Input(placeholder="agent login name", id="assignee")
            yield Input(placeholder="reason (required)", id="reason")
            yield Static("", id="error")

    def action_save(self) -> None:
        assignee = self.query_one("#assignee", Input).value.strip()
        reason = self.query_one("#reason", Input).value.strip()
        if assignee not in self.agents:
            self._refuse("#assignee", "Type one of the agents listed above.")
        elif not reason:
            self._refuse("#reason", "A reassignment needs a reason.")
        else:
            self.dismiss(ReassignRequest(assignee=assignee, reason=reason))

    def _refuse(self, field: str, message: str) -> None:
        self.query_one("#error", Static).update(message)
        self.query_one(field, Input).focus()

    @on(Input.Submitted, "#assignee")
    def _next(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _submit(self) -> None:
        self.action_save()


class WorkloadScreen(DeskScreen[None]):
    """Agents at the top, the chosen agent's open cases below, most urgent first."""

    DEFAULT_CSS = """
    WorkloadScreen #agents { height: 40%; }
    WorkloadScreen #cases { height: 1fr; }
    WorkloadScreen Label { padding: 0 1; text-style: bold; }
    """
    BINDINGS = [
        Binding("j", "cursor(1)", "Down", show=False, id="workload.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="workload.up"),
        Binding("space", "mark", "Mark", id="workload.mark"),
        Binding("a", "mark_all", "Mark all", id="workload.mark_all"),
        Binding("r", "reassign", "Reassign", id="workload.reassign"),
        Binding("u", "reload", "Reload", id="workload.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.agent: str | None = None  # whose cases are listed (None: the unassigned pile)
        self.listing = False
        self.cases: tuple[CaseSummary, ...] = ()
        self.marked: set[int] = set()
        self.agent_names: list[str] = []

    def compose(self) -> ComposeResult:
        yield Label("Workload")
        yield DataTable(id="agents", cursor_type="row", zebra_stripes=True)
        yield Label("Open cases: Enter on an agent", id="cases-title")
        yield DataTable(id="cases", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#agents", DataTable).add_columns(
            "Agent", "Role", "Open", "Disputes", "Due ≤7d", "Overdue", "Warnings", "Escalated")
        self.query_one("#cases", DataTable).add_columns(
            " ", "Case", "Kind", "Customer", "Stage", "Due", "Days left", "Warning")
        self.action_reload()

    # --- loading ---------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load("workload", lambda: supervisor.workload(self.desk), self._show_agents)
        if self.listing:
            self._load_cases(self.agent)

    def _show_agents(self, rows: tuple[supervisor.AgentLoad, ...]) -> None:
        table = self.query_one("#agents", DataTable)
        table.clear()
        self.agent_names = [r.agent_name for r in rows if r.agent_name and r.active]
        for r in rows:
            name = r.agent_name or UNASSIGNED
            table.add_row(
                cell(name if r.active else f"{name} (inactive)"),
                r.role.value if r.role else "", r.open_cases, r.open_disputes, r.due_soon,
                cell(r.overdue, "bold red" if r.overdue else ""),
                cell(r.dispute_warnings, "yellow" if r.dispute_warnings else ""),
                r.escalated, key=name,
            )
        if not self.listing:
            table.focus()

    @on(DataTable.RowSelected, "#agents")
    def _agent_chosen(self, event: DataTable.RowSelected) -> None:
        name = str(event.row_key.value)
        self.marked.clear()
        self._load_cases(None if name == UNASSIGNED else name)

    def _load_cases(self, agent: str | None) -> None:
        self.agent, self.listing = agent, True
        self.load("workload-cases", lambda: supervisor.agent_cases(self.desk, agent=agent),
                  self._show_cases)

    def _show_cases(self, items: tuple[CaseSummary, ...]) -> None:
        self.cases = items
        self.marked &= {c.id for c in items}
        self.query_one("#cases-title", Label).update(
            lit(f"Open cases of {self.agent or UNASSIGNED}: {len(items)}"))
        table = self.query_one("#cases", DataTable)
        table.clear()
        for c in items:
            style = urgency(c.days_left, c.overdue) or ("yellow" if c.warning else "")
            table.add_row(
                MARK if c.id in self.marked else " ", f"#{c.id}", c.kind.label,
                cell(c.customer_name), c.dispute_stage.value if c.dispute_stage else "",
                str(c.due_date), cell(days_left_text(c.days_left, c.overdue), style),
                cell(c.warning or "", "yellow" if c.warning else ""), key=str(c.id),
            )
        table.focus()

    # --- selection and reassignment --------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        if isinstance(self.focused, DataTable):
            self.focused.move_cursor(row=self.focused.cursor_row + step)

    def _case_table(self) -> DataTable[Any] | None:
        table: DataTable[Any] = self.query_one("#cases", DataTable)
        return table if self.focused is table and self.cases else None

    def _show_mark(self, table: DataTable[Any], case_id: int) -> None:
        table.update_cell(str(case_id), table.ordered_columns[0].key,
                          MARK if case_id in self.marked else " ")

    def action_mark(self) -> None:
        table = self._case_table()
        if table is None:
            return
        case_id = self.cases[table.cursor_row].id
        self.marked ^= {case_id}
        self._show_mark(table, case_id)
        table.move_cursor(row=table.cursor_row + 1)

    def action_mark_all(self) -> None:
        table = self._case_table()
        if table is None:
            return
        everything = {c.id for c in self.cases}
        self.marked = set() if self.marked == everything else everything
        for c in self.cases:
            self._show_mark(table, c.id)

    def action_reassign(self) -> None:
        chosen = [c for c in self.cases if c.id in self.marked]
        table = self._case_table()
        if not chosen and table is not None:
            chosen = [self.cases[table.cursor_row]]
        if not chosen:
            self.notify("Choose an agent (Enter), then mark cases with space.",
                        severity="warning")
            return
        self.app.push_screen(ReassignDialog(len(chosen), self.agent_names),
                             lambda req: self._reassign(chosen, req))

    def _reassign(self, chosen: list[CaseSummary], req: ReassignRequest | None) -> None:
        if req is None:
            return
        versions = {c.id: c.version for c in chosen}

        def done(moved: tuple[CaseSummary, ...]) -> None:
            self.marked.clear()
            self.notify(f"Reassigned {len(moved)} case(s) to {req.assignee}.", markup=False)
            self.action_reload()

        self.load(
            "workload-save",
            lambda: supervisor.reassign(self.desk, case_ids=list(versions),
                                        assignee=req.assignee, reason=req.reason,
                                        expected_versions=versions),
            done, reload=self.action_reload,
        )


register(DeskCommand(
    id="workload.open", title="Workload", help="Open work per agent; reassign cases",
    key="W", open=lambda app: app.push_screen(WorkloadScreen()), supervisor_only=True,
))
