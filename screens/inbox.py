"""The inbox (``N``): notices about the agent's cases, newest first, unread marked.

Enter opens the notice's case and marks it read; ``m`` marks the notice under the cursor read,
``M`` marks them all read; ``t`` switches between unread notices and all of them; ``r``
reloads. The main screen's banner shows how many are unread. Notices hold case numbers and
agents' names only (see :mod:`helpdesk.services.inbox`).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from helpdesk.services import inbox
from helpdesk.services.changes import Change
from screens.base import DeskChanged, DeskScreen
from screens.text import cell, lit, when
from screens.widgets import ListColumn, ListTable, Row

NOTICE_COLUMNS = (
    ListColumn("new", "", 1, priority=0),
    ListColumn("at", "When", 16, priority=0),
    ListColumn("kind", "What", 10, priority=1),
    ListColumn("case", "Case", 7, priority=0),
    ListColumn("text", "Notice", 30, priority=0, flex=True),
)


class InboxScreen(DeskScreen[None]):
    """The acting agent's notices."""

    FOCUS = "#notices"
    BINDINGS = [
        Binding("m", "mark_read", "Mark read", id="inbox.read"),
        Binding("M", "mark_all_read", "All read", id="inbox.read_all"),
        Binding("t", "toggle", "Unread/all", id="inbox.toggle"),
        Binding("r", "reload", "Reload", id="inbox.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.unread_only = True
        self.page: inbox.InboxPage | None = None

    def compose(self) -> ComposeResult:
        yield Static("Inbox", id="inbox-title", classes="screen-title")
        yield ListTable(NOTICE_COLUMNS, self._row, id="notices")

    def _row(self, n: inbox.Notice) -> Row:
        style = "" if n.read else "bold"
        return str(n.id), (
            cell("" if n.read else "●", "bold yellow"), cell(when(n.at, self.desk.settings.tz)),
            cell(n.kind.value, style), cell(f"#{n.case_id}" if n.case_id else "-", style),
            cell(n.text, style, limit=300),
        )

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        desk, unread_only = self.desk, self.unread_only
        self.load("inbox", lambda: inbox.inbox(desk, unread_only=unread_only), self._show)

    def _show(self, page: inbox.InboxPage) -> None:
        self.page = page
        which = "unread notices" if self.unread_only else "all notices"
        self.query_one("#inbox-title", Static).update(lit(
            f"Inbox: {page.unread} unread · showing {which} (t switches; Enter opens the case)"))
        self.query_one(ListTable).set_items(page.items)

    def desk_changed(self, event: DeskChanged) -> None:
        if event.kind == "case":  # a reassignment or an escalation may have posted a notice
            self.action_reload()

    def action_toggle(self) -> None:
        self.unread_only = not self.unread_only
        self.action_reload()

    def _mark(self, ids: list[int], everything: bool = False) -> None:
        desk = self.desk

        def done(_: int) -> None:
            # Reading a notice is not audited, so no change feed carries it: tell the desk.
            self.desk_app.publish_changes([Change("notification", frozenset(ids))])
            self.action_reload()

        self.load("inbox-read", lambda: inbox.mark_read(desk, ids=ids, everything=everything),
                  done)

    def action_mark_read(self) -> None:
        notice = self.query_one(ListTable).current
        if notice is not None and not notice.read:
            self._mark([notice.id])

    def action_mark_all_read(self) -> None:
        if self.page is not None and self.page.unread:
            self._mark([], everything=True)

    def on_list_table_row_selected(self, event: ListTable.RowSelected) -> None:
        event.stop()
        notice = self.query_one(ListTable).current
        if notice is None:
            return
        if not notice.read:
            self._mark([notice.id])
        if notice.case_id is not None:
            self.desk_app.open_case(notice.case_id)
