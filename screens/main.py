"""The main screen: queues down the side, the chosen queue's cases, and the start banner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from helpdesk.domain import CaseKind, DisputeStage, Queue
from helpdesk.services import cases, disputes
from helpdesk.services.readmodels import AgentInfo, CaseSummary, Page, QueueCounts
from screens.base import KeyBar, Loader
from screens.text import cell, days_left_text, urgency, when

#: The first page only has to fill the screen (so a queue shows fast); later pages are larger.
FIRST_PAGE = 50
PAGE_SIZE = 100
#: Load the next page when the cursor gets this close to the last loaded row.
PREFETCH_ROWS = 25


@dataclass(frozen=True, slots=True)
class QueueSpec:
    key: str
    label: str
    queue: Queue
    stage: DisputeStage | None = None


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("mine", "My cases", Queue.MINE),
    QueueSpec("unassigned", "Unassigned", Queue.UNASSIGNED),
    QueueSpec("due_soon", "Due within 7 days", Queue.DUE_SOON),
    QueueSpec("overdue", "Overdue", Queue.OVERDUE),
    QueueSpec("disputes", "Disputes", Queue.DISPUTES),
    *(
        QueueSpec(f"disputes:{stage.value}", f"  {stage.value.replace('_', ' ')}",
                  Queue.DISPUTES, stage)
        for stage in DisputeStage
        if disputes.next_stages(stage)  # queues hold open cases: final stages are never there
    ),
    QueueSpec("open", "All open", Queue.OPEN),
)
_BY_KEY = {spec.key: spec for spec in QUEUES}


#: Kind labels short enough for the table at 80 columns (the case view shows the full one).
SHORT_KIND = {
    CaseKind.MARKETING_OPT_OUT: "Opt-out",
    CaseKind.OBJECTION: "Objection",
    CaseKind.UNDER_13: "Under-13",
    CaseKind.POSTING_REMOVAL: "Posting",
}


def case_row(case: CaseSummary, tz: ZoneInfo) -> list[Text]:
    """Table cells for a case; the whole row takes the urgency colour."""
    style = urgency(case.days_left, case.overdue)
    label = SHORT_KIND.get(case.kind, case.kind.label)
    if case.escalated or case.warning:
        label += " ⚑"
    return [
        cell(label, style, limit=14),
        cell(case.customer_name or "-", style, limit=22),
        cell(case.subject or "(no subject)", style, limit=60),
        cell(case.assignee_name or "-", style or ("dim" if case.assignee_name is None else ""),
             limit=18),
        cell(when(case.received_at, tz)[:10], style),
        cell(days_left_text(case.days_left, case.overdue), style),
    ]


class CaseTable(DataTable[Text]):
    """A table of case summaries; row keys are case ids."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("g", "scroll_top", "First", show=False, id="list.first"),
        Binding("G", "scroll_bottom", "Last loaded", show=False, id="list.last"),
    ]

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for label in ("Kind", "Customer", "Subject", "Assignee", "Received", "Left"):
            self.add_column(label, key=label.lower())

    def add_cases(self, items: tuple[CaseSummary, ...], tz: ZoneInfo) -> None:
        for case in items:
            key = str(case.id)
            if key not in self.rows:
                self.add_row(*case_row(case, tz), key=key)

    @property
    def current_case_id(self) -> int | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return int(key.value) if key.value else None


class QueueList(OptionList):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.up"),
    ]


class MainScreen(Loader, Screen[None]):
    """Queues on the left, cases on the right; the banner counts the agent's urgent cases."""

    BINDINGS = [
        Binding("n", "new_case", "New case", id="main.new_case"),
        Binding("c", "new_customer", "New customer", id="main.new_customer"),
        Binding("a", "assign_self", "Take", id="main.assign"),
        Binding("r", "refresh", "Refresh", id="main.refresh"),
        Binding("tab", "switch_pane", "Pane", show=False, id="main.pane"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.spec = QUEUES[0]
        self.next_cursor: str | None = None
        self.paging = False
        self.seen_changes = 0

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="banner")
        with Horizontal(id="main-body"):
            yield QueueList(*(Option(spec.label, id=spec.key) for spec in QUEUES), id="queues")
            with Vertical(id="queue-pane"):
                yield Static("", id="queue-title")
                yield CaseTable(id="cases")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(QueueList).highlighted = 0
        self.query_one(CaseTable).focus()
        self.load("me", self.desk_app.whoami, self.desk_app.agent_loaded)
        self.load("banner", lambda: cases.my_counts(self.desk), self._show_banner)
        self.select_queue(self.spec.key)

    def on_screen_resume(self) -> None:
        if self.desk_app.changes != self.seen_changes:
            self.action_refresh()

    def _show_banner(self, counts: QueueCounts) -> None:
        banner = self.query_one("#banner", Static)
        text = Text()
        if counts.mine_overdue:
            text.append(f"{counts.mine_overdue} of your cases overdue", "bold red")
        else:
            text.append("None of your cases is overdue", "green")
        text.append(f" · {counts.mine_due_soon} due within 7 days", "yellow"
                    if counts.mine_due_soon else "")
        text.append(f" · {counts.mine_open} open")
        if counts.mine_dispute_warnings:
            text.append(f" · {counts.mine_dispute_warnings} disputes past a warning day",
                        "bold magenta")
        banner.update(text)

    # --- queues -----------------------------------------------------------------------------

    def select_queue(self, key: str) -> None:
        spec = _BY_KEY.get(key)
        if spec is None:
            return
        self.spec = spec
        self.seen_changes = self.desk_app.changes
        queues = self.query_one(QueueList)
        index = QUEUES.index(spec)
        if queues.highlighted != index:
            queues.highlighted = index
        self.query_one("#queue-title", Static).update(
            Text.assemble((spec.label.strip(), "bold"), " — loading…"))
        self.paging = True
        self.load("queue", page_call(self, spec, None, FIRST_PAGE), self._first_page)

    def _first_page(self, page: Page[CaseSummary]) -> None:
        table = self.query_one(CaseTable)
        table.clear()
        self._append(page)

    def _next_page(self, page: Page[CaseSummary]) -> None:
        self._append(page)

    def _append(self, page: Page[CaseSummary]) -> None:
        table = self.query_one(CaseTable)
        table.add_cases(page.items, self.desk.settings.tz)
        self.next_cursor = page.next_cursor
        self.paging = False
        more = "+" if page.next_cursor else ""
        empty = " — nothing here" if not table.row_count else f" — {table.row_count}{more} cases"
        self.query_one("#queue-title", Static).update(
            Text.assemble((self.spec.label.strip(), "bold"), empty))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.spec.key:
            self.select_queue(event.option.id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one(CaseTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = self.query_one(CaseTable)
        near_end = event.cursor_row >= table.row_count - PREFETCH_ROWS
        if near_end and self.next_cursor and not self.paging:
            self.paging = True
            self.load("queue", page_call(self, self.spec, self.next_cursor, PAGE_SIZE),
                      self._next_page)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.desk_app.open_case(int(event.row_key.value))

    # --- actions ----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load("banner", lambda: cases.my_counts(self.desk), self._show_banner)
        self.select_queue(self.spec.key)

    def action_switch_pane(self) -> None:
        if self.focused is self.query_one(CaseTable):
            self.query_one(QueueList).focus()
        else:
            self.query_one(CaseTable).focus()

    def action_new_case(self) -> None:
        self.desk_app.action_new_case()

    def action_new_customer(self) -> None:
        self.desk_app.action_new_customer()

    def action_assign_self(self) -> None:
        table = self.query_one(CaseTable)
        case_id = table.current_case_id
        me: AgentInfo | None = self.desk_app.me
        if case_id is None or me is None:
            return
        self.load(
            "assign",
            lambda: cases.assign(self.desk, case_id=case_id, assignee=me.name),
            lambda detail: self._assigned(detail.case.id),
        )

    def _assigned(self, case_id: int) -> None:
        self.desk_app.changes += 1
        self.notify(f"Case #{case_id} is yours.", markup=False)
        self.action_refresh()


def page_call(
    screen: MainScreen, spec: QueueSpec, cursor: str | None, size: int
) -> Callable[[], Page[CaseSummary]]:
    """The service call for one page of ``spec`` (bound now, run in the worker)."""
    desk = screen.desk
    return lambda: cases.list_queue(desk, spec.queue, cursor=cursor, limit=size,
                                    stage=spec.stage)
