"""Audit trail (supervisors): who viewed, exported or changed what, filtered and paged.

Keys: Tab moves between the filter fields and the list; Enter in a field (or Ctrl+F) applies the
filters; ``m`` loads the next page of older events; ``v`` verifies the hash chain; ``u``
reloads; Escape goes back. On a customer profile, ``V`` opens the trail of that customer (their
record and their cases). The services enforce the role: an agent who gets here is refused by the
first load.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Label, Static

from helpdesk.clock import start_of_day
from helpdesk.errors import Invalid
from helpdesk.services import audit_query
from helpdesk.services.audit_query import AuditEntry, AuditFilter, VerifyResult
from helpdesk.services.readmodels import CustomerDetail, Page
from screens.base import DeskScreen
from screens.registry import CustomerAction, DeskCommand, register
from screens.text import cell, lit, when

if TYPE_CHECKING:
    from screens.app import DeskApp

FIELDS = ("agent", "customer", "action", "since", "until")
PLACEHOLDERS = {
    "agent": "agent login",
    "customer": "customer id",
    "action": "action or prefix.",
    "since": "from YYYY-MM-DD",
    "until": "to YYYY-MM-DD",
}


class AuditScreen(DeskScreen[None]):
    """Filters on top, events newest first below, the chain status at the bottom."""

    DEFAULT_CSS = """
    AuditScreen #filters { height: auto; }
    AuditScreen #filters Input { width: 1fr; }
    AuditScreen #events { height: 1fr; }
    AuditScreen #status { padding: 0 1; }
    AuditScreen Label { padding: 0 1; text-style: bold; }
    """
    BINDINGS = [
        Binding("ctrl+f", "apply", "Filter", id="audit.apply"),
        Binding("m", "more", "More", id="audit.more"),
        Binding("v", "verify", "Verify chain", id="audit.verify"),
        Binding("u", "reload", "Reload", id="audit.reload"),
        Binding("j", "cursor(1)", "Down", show=False, id="audit.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="audit.up"),
    ]

    #: Events per page: a few hundred rows keep the table quick; ``m`` fetches older ones.
    PAGE = audit_query.DEFAULT_PAGE

    def __init__(self, *, customer_id: int | None = None) -> None:
        super().__init__()
        self.initial_customer = customer_id
        self.filter = AuditFilter(customer_id=customer_id)
        self.entries: list[AuditEntry] = []
        self.next_cursor: str | None = None

    def compose(self) -> ComposeResult:
        yield Label("Audit trail")
        with Horizontal(id="filters"):
            for name in FIELDS:
                yield Input(placeholder=PLACEHOLDERS[name], id=name)
        yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#events", DataTable).add_columns(
            "Event", "When", "Agent", "Action", "Object", "Details")
        if self.initial_customer is not None:
            self.query_one("#customer", Input).value = str(self.initial_customer)
        self.action_reload()

    # --- loading ---------------------------------------------------------------------------

    def action_reload(self) -> None:
        f, limit = self.filter, self.PAGE
        self.load("audit", lambda: audit_query.query(self.desk, filter=f, limit=limit),
                  lambda page: self._show(page, append=False))

    def action_more(self) -> None:
        if self.next_cursor is None:
            self.notify("No older events.", markup=False)
            return
        f, cursor, limit = self.filter, self.next_cursor, self.PAGE
        self.load("audit", lambda: audit_query.query(self.desk, filter=f, cursor=cursor,
                                                     limit=limit),
                  lambda page: self._show(page, append=True))

    def _show(self, page: Page[AuditEntry], *, append: bool) -> None:
        table = self.query_one("#events", DataTable)
        if not append:
            table.clear()
            self.entries = []
        tz = self.desk.settings.tz
        for e in page.items:
            details = " ".join(f"{k}={v}" for k, v in sorted(e.details.items()) if v is not None)
            table.add_row(
                e.id, when(e.at, tz), cell(e.actor_name or "-"), cell(e.action),
                cell(f"{e.object_type} #{e.object_id}" if e.object_id else e.object_type),
                cell(details), key=str(e.id),
            )
        self.entries.extend(page.items)
        self.next_cursor = page.next_cursor
        more = " (m: older)" if page.next_cursor else ""
        self._status(f"{len(self.entries)} event(s) shown{more}")

    def action_verify(self) -> None:
        self._status("verifying the audit chain…")
        self.load("verify", lambda: audit_query.verify(self.desk), self._verified)

    def _verified(self, result: VerifyResult) -> None:
        if result.ok:
            self._status(f"audit chain verified: {result.checked} events")
        else:
            self._status(f"AUDIT CHAIN BROKEN at event #{result.broken_at}: {result.reason}",
                         "bold red")

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#status", Static).update(lit(text, style))

    # --- filters -------------------------------------------------------------------------------

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        values = {name: self.query_one(f"#{name}", Input).value.strip() for name in FIELDS}
        try:
            self.filter = self._parse(values)
        except Invalid as exc:
            self.desk_app.show_error(exc)
            if exc.field in FIELDS:
                self.query_one(f"#{exc.field}", Input).focus()
            return
        self.action_reload()
        self.query_one("#events", DataTable).focus()

    def _parse(self, values: dict[str, str]) -> AuditFilter:
        customer = values["customer"].lstrip("#")
        if customer and not customer.isdigit():
            raise Invalid("customer must be a customer number", field="customer")
        return AuditFilter(
            agent=values["agent"] or None,
            customer_id=int(customer) if customer else None,
            action=values["action"] or None,
            since=self._day(values["since"], "since", end=False),
            until=self._day(values["until"], "until", end=True),
        )

    def _day(self, value: str, field: str, *, end: bool) -> datetime | None:
        if not value:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise Invalid("dates are written like 2026-03-01", field=field) from None
        return start_of_day(day + timedelta(days=1) if end else day, self.desk.settings.tz)

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#events", DataTable)
        table.move_cursor(row=table.cursor_row + step)


def _customer_trail(app: DeskApp, customer: CustomerDetail) -> None:
    app.push_screen(AuditScreen(customer_id=customer.id))


register(
    DeskCommand(
        id="audit.open", title="Audit trail", key="A",
        help="Who viewed, exported or changed what; verify the chain",
        open=lambda app: app.push_screen(AuditScreen()), supervisor_only=True,
    ),
    CustomerAction(
        id="audit.customer", title="Who viewed this customer", key="V",
        help="The audit trail of this customer and their cases",
        run=_customer_trail, supervisor_only=True,
    ),
)
