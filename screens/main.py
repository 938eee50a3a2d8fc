"""The main screen: queues down the side, the chosen queue's cases, and the start banner."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.reactive import reactive
from textual.widgets import Static
from textual.widgets.option_list import Option

from helpdesk.domain import CaseKind, DisputeStage, Queue
from helpdesk.services import cases, disputes, inbox
from helpdesk.services.readmodels import CaseSummary, QueueCounts, QueueTotals
from helpdesk.wording import counted
from screens.base import DeskChanged, DeskScreen
from screens.text import cell, days_left_text, urgency, when
from screens.widgets import ListColumn, ListTable, Picker, Row, focus_now

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
        QueueSpec(f"disputes:{stage.value}", f"  {stage.label}", Queue.DISPUTES, stage)
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

#: Case columns; the deadline ("Left") is the last to give way on a narrow terminal.
CASE_COLUMNS = (
    ListColumn("kind", "Kind", 10, priority=1),
    ListColumn("customer", "Customer", 12, priority=1),
    ListColumn("subject", "Subject", 11, priority=1, flex=True),
    ListColumn("assignee", "Assignee", 14, priority=3),
    ListColumn("received", "Received", 10, priority=2),
    ListColumn("left", "Left", 12, priority=0),
)


def case_row(case: CaseSummary, tz: ZoneInfo) -> Row:
    """Table cells for a case; the whole row takes the urgency colour."""
    style = urgency(case.days_left, case.overdue)
    label = SHORT_KIND.get(case.kind, case.kind.label)
    if case.escalated or case.warning:
        label += " ⚑"
    return str(case.id), (
        cell(label, style, limit=14),
        cell(case.customer_name or "-", style, limit=22),
        cell(case.subject or "(no subject)", style, limit=60),
        cell(case.assignee_name or "-", style or ("dim" if case.assignee_name is None else ""),
             limit=18),
        cell(when(case.received_at, tz)[:10], style),
        cell(days_left_text(case.days_left, case.overdue), style),
    )


class CaseTable(ListTable[CaseSummary]):
    """A table of case summaries; row keys are case ids."""

    def __init__(self, tz: ZoneInfo, *, id: str | None = None) -> None:
        super().__init__(CASE_COLUMNS, lambda c: case_row(c, tz), first_page=FIRST_PAGE,
                         page_size=PAGE_SIZE, prefetch=PREFETCH_ROWS, id=id)

    @property
    def current_case_id(self) -> int | None:
        key = self.current_key
        return int(key) if key else None


class QueueList(Picker):
    """The queues; Enter goes to the chosen queue's cases before the next key is handled.

    Every queue is one line (:meth:`MainScreen._queue_label` fits them to the width), so a
    move of the highlight redraws the two lines it leaves and reaches, not the whole list as
    OptionList does: that redraw ran while the chosen queue's first page was being fetched.
    """

    highlighted: reactive[int | None] = reactive(None, repaint=False)

    def watch_highlighted(self, old: int | None, new: int | None) -> None:
        super().watch_highlighted(new)
        top, width = self.scroll_offset.y, self.scrollable_content_region.width
        self.refresh(*(Region(0, index - top, width, 1) for index in {old, new}
                       if index is not None))

    def action_select(self) -> None:
        super().action_select()
        focus_now(self.screen.query_one(CaseTable))


class MainScreen(DeskScreen[None]):
    """Queues on the left, cases on the right; the banner counts the agent's urgent cases."""

    SLOT = "main"
    FOCUS = "#cases"
    BINDINGS = [
        Binding("n", "new_case", "New case", id="main.new_case"),
        Binding("c", "new_customer", "New customer", id="main.new_customer"),
        Binding("a", "assign_self", "Take", id="main.assign"),
        Binding("r", "refresh", "Refresh", id="main.refresh"),
        Binding("tab", "switch_pane", "Pane", show=False, id="main.pane"),
    ]

    #: Width of the queue list's labels (its CSS width less border and padding).
    QUEUE_LABEL_WIDTH = 21

    def __init__(self) -> None:
        super().__init__()
        self.spec = QUEUES[0]
        self.totals: QueueTotals | None = None
        self.loaded: tuple[int, bool] | None = None  # rows loaded, more to come
        self.counts: QueueCounts | None = None
        self.inbox_unread: int | None = None
        self.counted = False  # the banner and counts were asked for (after the first rows)

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="banner")
        with Horizontal(id="main-body"):
            yield QueueList(*(Option(self._queue_label(spec), id=spec.key)
                              for spec in QUEUES), id="queues")
            with Vertical(id="queue-pane"):
                yield Static("", id="queue-title")
                yield CaseTable(self.desk.settings.tz, id="cases")

    def on_mount(self) -> None:
        queues = self.query_one(Picker)
        queues.highlighted = 0
        self.watch(queues, "highlighted", self._queue_highlighted, init=False)
        # First paint, then the first queue's rows, then the rest: started together, the
        # counts (a pass over every open case) would hold up both.
        self.call_after_refresh(self.select_queue, self.spec.key)

    def _load_counts(self) -> None:
        desk = self.desk
        self.load("banner", lambda: cases.my_counts(desk), self._show_banner)
        self.load("inbox", lambda: inbox.unread_count(desk), self._show_inbox)
        self.load("totals", lambda: cases.queue_totals(desk), self._show_totals)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return False  # the main screen is the bottom of the stack
        return super().check_action(action, parameters)

    def desk_changed(self, event: DeskChanged) -> None:
        if event.kind in {"case", "customer"}:
            self._load_counts()
            self.query_one(CaseTable).refresh_rows()
        elif event.kind == "notification":
            self.load("inbox", lambda: inbox.unread_count(self.desk), self._show_inbox)
        elif event.kind == "agent":
            self.load("me", self.desk_app.load_identity, self.desk_app.identity_loaded)

    def _show_inbox(self, unread: int) -> None:
        self.inbox_unread = unread
        if self.counts is not None:
            self._show_banner(self.counts)

    def _show_banner(self, counts: QueueCounts) -> None:
        self.counts = counts
        banner = self.query_one("#banner", Static)
        text = Text()
        if self.inbox_unread is not None:
            text.append(f"Inbox: {self.inbox_unread} new", "bold yellow" if self.inbox_unread
                        else "dim")
            text.append(" (N) · ", "dim")
        if counts.mine_overdue:
            text.append(f"{counts.mine_overdue:,} of your cases overdue", "bold red")
        else:
            text.append("None of your cases is overdue", "green")
        text.append(f" · {counts.mine_due_soon:,} due within 7 days", "yellow"
                    if counts.mine_due_soon else "")
        text.append(f" · {counts.mine_open:,} open")
        if counts.mine_dispute_warnings:
            text.append(f" · {counted(counts.mine_dispute_warnings, 'dispute')} past a warning "
                        "day", "bold magenta")
        if counts.team_overdue is not None:  # supervisors answer for the whole team
            text.append("\nTeam: ", "bold")
            text.append(f"{counts.team_overdue:,} overdue", "bold red" if counts.team_overdue
                        else "green")
            text.append(f" · {counts.team_due_soon or 0:,} due within 7 days",
                        "yellow" if counts.team_due_soon else "")
            if counts.team_dispute_warnings:
                text.append(f" · {counted(counts.team_dispute_warnings, 'dispute')} past a "
                            "warning day", "bold magenta")
        if counts.unmatched_open:  # requests whose clocks run while nobody has them
            late = (f", {counts.unmatched_overdue:,} overdue" if counts.unmatched_overdue
                    else "") + (f", {counts.unmatched_due_soon:,} due within 7 days"
                                if counts.unmatched_due_soon else "")
            text.append(f"\nIntake: {counted(counts.unmatched_open, 'letter')} from unknown "
                        f"senders{late} (I)", "bold red" if counts.unmatched_overdue else "yellow")
        banner.update(text)

    def _queue_label(self, spec: QueueSpec) -> Text:
        """The queue's name and, once counted, how many cases it holds, right-aligned."""
        if self.totals is None:
            return Text(spec.label)
        n = f"{self.totals.of(spec.queue, spec.stage):,}"
        room = self.QUEUE_LABEL_WIDTH - len(n) - 1  # one line: the name gives way to the count
        name = spec.label if len(spec.label) <= room else spec.label[:room - 1] + "…"
        label = Text(name)
        label.append(" " * (self.QUEUE_LABEL_WIDTH - len(name) - len(n)))
        label.append(n, "bold" if spec.queue is Queue.OVERDUE and n != "0" else "")
        return label

    def _show_totals(self, totals: QueueTotals) -> None:
        self.totals = totals
        queues = self.query_one(Picker)
        for spec in QUEUES:
            queues.replace_option_prompt(spec.key, self._queue_label(spec))
        self._show_title()

    def _show_title(self) -> None:
        spec = self.spec
        if self.totals is not None:
            total = self.totals.of(spec.queue, spec.stage)
            shown = f" — {counted(total, 'case')}" if total else " — nothing here"
        elif self.loaded is not None:
            count, more = self.loaded
            shown = f" — {count:,}{'+' if more else ''} cases" if count else " — nothing here"
        else:
            shown = " — loading…"
        # One line whatever it says (desk.tcss fixes its size): no layout pass, which would
        # also redraw the case table's scrollbar on every queue change.
        self.query_one("#queue-title", Static).update(
            Text.assemble((spec.label.strip(), "bold"), shown), layout=False)

    # --- queues -----------------------------------------------------------------------------

    def select_queue(self, key: str) -> None:
        spec = _BY_KEY.get(key)
        if spec is None:
            return
        self.spec = spec
        queues = self.query_one(Picker)
        index = QUEUES.index(spec)
        if queues.highlighted != index:
            queues.highlighted = index
        self.loaded = None
        self._show_title()
        desk = self.desk
        self.query_one(CaseTable).show(
            lambda cursor, limit: cases.list_queue(desk, spec.queue, cursor=cursor, limit=limit,
                                                   stage=spec.stage))

    def on_list_table_loaded(self, event: ListTable.Loaded) -> None:
        self.loaded = (event.count, event.more)
        self._show_title()
        if not self.counted:  # the first rows are on screen: now who I am and the counts
            self.counted = True
            self.load("me", self.desk_app.load_identity, self.desk_app.identity_loaded)
            self._load_counts()
            self.call_after_refresh(self.desk_app.started)

    def _queue_highlighted(self, index: int | None) -> None:
        """The queue list moved: list that queue now, as the key that moved it is handled.
        (Answered through the list's message, the keys typed right after it, such as Tab, j
        and Enter for the queue's third case, were handled before the new queue was asked
        for, and acted on the old one.)"""
        if index is not None:
            key = self.query_one(Picker).get_option_at_index(index).id
            if key and key != self.spec.key:
                self.select_queue(key)

    def on_list_table_row_selected(self, event: ListTable.RowSelected) -> None:
        self.desk_app.open_case(int(event.row_key))

    # --- actions ----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._load_counts()
        self.select_queue(self.spec.key)

    def action_switch_pane(self) -> None:
        if self.focused is self.query_one(CaseTable):
            focus_now(self.query_one(Picker))
        else:
            focus_now(self.query_one(CaseTable))

    def action_new_case(self) -> None:
        self.desk_app.action_new_case()

    def action_new_customer(self) -> None:
        self.desk_app.action_new_customer()

    def action_assign_self(self) -> None:
        table = self.query_one(CaseTable)
        case_id = table.current_case_id
        if case_id is None:
            return

        def refused(exc: Exception) -> bool:
            table.refresh_rows()  # someone else took it: the row goes (the app says who)
            return False

        self.change(
            "assign", lambda: cases.take(self.desk, case_id=case_id),
            lambda detail: self.notify(f"Case #{detail.case.id} is yours.", markup=False),
            failed=refused,
        )
