"""Audit trail (supervisors): who viewed, exported or changed what, filtered and paged.

Keys: Tab moves between the filter fields and the list; Enter in a field (or Ctrl+F) applies the
filters; ``m`` loads the next page of older events; ``v`` verifies the hash chain; ``u``
reloads; Escape goes back. On a customer profile, ``V`` opens the trail of that customer (their
record and their cases). The services enforce the role: an agent who gets here is refused by the
first load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from helpdesk.errors import Invalid
from helpdesk.services.readmodels import CustomerDetail
from helpdesk.wording import counted
from screens.base import DeskScreen
from screens.registry import lazy_module
from screens.text import cell, lit, when
from screens.widgets import ListColumn, ListTable, Row, focus_now

if TYPE_CHECKING:
    from helpdesk.services import audit_query
    from helpdesk.services.audit import ChainReport
    from helpdesk.services.audit_query import AuditEntry
    from screens.app import DeskApp
else:  # loaded when the trail is first opened, not when the desk starts
    audit_query = lazy_module("helpdesk.services.audit_query")

FIELDS = ("agent", "customer", "action", "since", "until")
PLACEHOLDERS = {
    "agent": "agent login",
    "customer": "customer id",
    "action": "action or prefix.",
    "since": "from YYYY-MM-DD",
    "until": "to YYYY-MM-DD",
}

EVENT_COLUMNS = (
    ListColumn("id", "Event", 7, priority=0),
    ListColumn("at", "When", 16, priority=0),
    ListColumn("agent", "Agent", 12, priority=1),
    ListColumn("action", "Action", 20, priority=0),
    ListColumn("object", "Object", 16, priority=1),
    ListColumn("details", "Details", 20, priority=2, flex=True),
)


class AuditScreen(DeskScreen[None]):
    """Filters on top, events newest first below, the chain status at the bottom."""

    DEFAULT_CSS = """
    AuditScreen #filters { height: auto; }
    AuditScreen #filters Input { width: 1fr; }
    AuditScreen #events { height: 1fr; }
    AuditScreen #status { padding: 0 1; }
    AuditScreen Label { padding: 0 1; text-style: bold; }
    """
    FOCUS = "#events"  # the list: its letters are keys; Tab reaches the filters
    BINDINGS = [
        Binding("ctrl+f", "apply", "Filter", id="audit.apply"),
        Binding("m", "more", "More", id="audit.more"),
        Binding("v", "verify", "Verify chain", id="audit.verify"),
        Binding("u", "reload", "Reload", id="audit.reload"),
    ]

    #: Events per page: a few hundred rows keep the table quick; ``m`` fetches older ones.
    PAGE: int | None = None  # None: the service's default page

    def __init__(self, *, customer_id: int | None = None) -> None:
        super().__init__()
        self.initial_customer = customer_id
        self.filter = audit_query.AuditFilter(customer_id=customer_id)

    def compose(self) -> ComposeResult:
        yield Label("Audit trail")
        with Horizontal(id="filters"):
            for name in FIELDS:
                yield Input(placeholder=PLACEHOLDERS[name], id=name)
        page = self.PAGE or audit_query.DEFAULT_PAGE
        yield ListTable(EVENT_COLUMNS, self._row, first_page=page, page_size=page,
                        prefetch=0, id="events")
        yield Static("", id="status")

    def on_mount(self) -> None:
        if self.initial_customer is not None:
            self.query_one("#customer", Input).value = str(self.initial_customer)
        self.action_reload()

    @property
    def _table(self) -> ListTable[AuditEntry]:
        return self.query_one("#events", ListTable)

    @property
    def entries(self) -> list[AuditEntry]:
        return list(self._table.items.values())

    @property
    def next_cursor(self) -> str | None:
        return self._table.next_cursor

    def _row(self, e: AuditEntry) -> Row:
        return str(e.id), (
            cell(e.id), cell(when(e.at, self.desk.settings.tz)), cell(e.actor_name or "-"),
            cell(e.action),
            cell(f"{e.object_type} #{e.object_id}" if e.object_id else e.object_type),
            cell(e.summary),
        )

    # --- loading ---------------------------------------------------------------------------

    def action_reload(self) -> None:
        desk, f = self.desk, self.filter
        self._table.show(lambda cursor, limit: audit_query.query(desk, filter=f, cursor=cursor,
                                                                 limit=limit))

    def action_more(self) -> None:
        if not self._table.more():
            self.notify("No older events.", markup=False)

    def on_list_table_loaded(self, event: ListTable.Loaded) -> None:
        more = " (m: older)" if event.more else ""
        self._status(f"{counted(event.count, 'event')} shown{more}")

    def action_verify(self) -> None:
        self._status("verifying the audit chain…")
        self.load("verify", lambda: audit_query.verify(self.desk), self._verified)

    def _verified(self, result: ChainReport) -> None:
        if result.ok:
            self._status(f"audit chain verified: {result.checked} events")
        else:
            where = f" at event #{result.broken_at}" if result.broken_at is not None else ""
            self._status(f"AUDIT CHAIN BROKEN{where}: {result.reason}", "bold red")

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#status", Static).update(lit(text, style))

    # --- filters -------------------------------------------------------------------------------

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        values = {name: self.query_one(f"#{name}", Input).value for name in FIELDS}
        try:
            self.filter = audit_query.parse_filter(self.desk.settings.tz, **values)
        except Invalid as exc:
            self.desk_app.show_error(exc)
            if exc.field in FIELDS:
                focus_now(self.query_one(f"#{exc.field}", Input))
            return
        self.action_reload()
        focus_now(self._table)


def customer_trail(app: DeskApp, customer: CustomerDetail) -> None:
    app.push_screen(AuditScreen(customer_id=customer.id))
