"""Customer profile (an audited view of personal data) and the new/edit customer form."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, DataTable, Input, Static

from helpdesk.errors import Conflict
from helpdesk.services import customers
from helpdesk.services.readmodels import CustomerDetail
from screens import registry
from screens.base import DeskScreen, FormModal, KeyBar
from screens.main import CaseTable
from screens.text import clean, day, when

CRUCIAL_MAIL = (
    "Crucial information about products or services the customer bought is still sent after a "
    "marketing opt-out (policy part II); only marketing stops."
)


class CustomerScreen(DeskScreen[None]):
    """Everything the desk knows about one customer, with edit / new case / registered actions."""

    BINDINGS = [
        Binding("e", "edit", "Edit", id="customer.edit"),
        Binding("n", "new_case", "New case", id="customer.new_case"),
        Binding("r", "reload", "Reload", id="customer.reload"),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.detail: CustomerDetail | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(f"Customer #{self.customer_id} — loading…", id="contact")
            yield Static("Cases", classes="section")
            yield CaseTable(id="customer-cases")
            yield Static("", id="more")
        yield KeyBar()

    def on_mount(self) -> None:
        for action in registry.CUSTOMER_ACTIONS:
            if action.key:
                self._bindings._add_binding(Binding(
                    action.key, f"extension({action.id!r})", action.title, id=action.id))
        self.action_reload()

    def action_reload(self) -> None:
        self.load("customer", lambda: customers.get(self.desk, self.customer_id), self._show,
                  failed=self.gone)

    def _show(self, d: CustomerDetail) -> None:
        self.detail = d
        tz = self.desk.settings.tz
        contact = Text()
        contact.append_text(Text(f"#{d.id} ", "bold"))
        contact.append_text(_t(d.name or "(erased)", "bold"))
        if d.erased_at:
            contact.append(f"  erased {when(d.erased_at, tz)}", "bold red")
        if d.under_13:
            contact.append("  UNDER 13: no marketing, parental contact", "bold magenta")
        contact.append("\n")
        for label, value in (("Phone", d.phone), ("Company", d.company),
                             ("Billing", d.billing_address), ("Shipping", d.shipping_address)):
            contact.append(f"{label:<10}", "dim")
            contact.append_text(_t((value or "-").replace("\n", "\n" + " " * 10)))
            contact.append("\n")
        contact.append("E-mail    ", "dim")
        if not d.emails:
            contact.append("-")
        for i, e in enumerate(d.emails):
            if i:
                contact.append("\n          ")
            contact.append_text(_t(e.address))
            if e.is_primary and len(d.emails) > 1:
                contact.append("  (primary)", "dim")
        self.query_one("#contact", Static).update(contact)

        table = self.query_one("#customer-cases", CaseTable)
        table.clear()
        table.add_cases(d.cases, tz)
        self.query_one("#more", Static).update(_more(d, tz))
        self.sub_title = f"customer #{d.id}"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.desk_app.open_case(int(event.row_key.value))

    def action_edit(self) -> None:
        if self.detail is None:
            return

        form = CustomerForm(self.detail)

        def saved(detail: CustomerDetail | None) -> None:
            if detail is not None:
                self.desk_app.changes += 1
                self._show(detail)
            elif form.conflicted:
                self.action_reload()

        self.app.push_screen(form, saved)

    def action_new_case(self) -> None:
        self.desk_app.action_new_case(self.customer_id)

    def action_extension(self, action_id: str) -> None:
        action = next((a for a in registry.CUSTOMER_ACTIONS if a.id == action_id), None)
        if action is None or self.detail is None:
            return
        if action.supervisor_only and not self.desk_app.is_supervisor:
            self.notify("Only a supervisor may do this.", severity="warning", markup=False)
            return
        action.run(self.desk_app, self.detail)


def _t(value: object, style: str = "") -> Text:
    """Untrusted text as a literal Text span."""
    return Text(clean(value), style=style)


def _more(d: CustomerDetail, tz: ZoneInfo) -> Text:
    out = Text()

    def section(title: str) -> None:
        out.append(f"\n{title}\n", "bold")

    section("Purchases and registrations")
    if not d.products:
        out.append("none recorded\n", "dim")
    for p in d.products:
        out.append(f"{p.relation:<13}{day(p.occurred_on):<11} ")
        out.append_text(_t(p.product))
        if p.reference:
            out.append("  ref ")
            out.append_text(_t(p.reference))
        out.append("\n")

    section("Marketing consent")
    if d.marketing_opted_out:
        out.append("Opted out of marketing.", "bold")
    else:
        out.append("Marketing allowed (no opt-out on record).")
    out.append(f"\n{CRUCIAL_MAIL}\n", "italic")
    for c in d.consent:
        out.append(f"{when(c.at, tz)}  {c.purpose} {c.action.replace('_', '-')} via {c.channel}")
        if c.agent_name:
            out.append(" by ")
            out.append_text(_t(c.agent_name))
        if c.source_case_id:
            out.append(f" (case #{c.source_case_id})")
        if c.note:
            out.append(" — ")
            out.append_text(_t(c.note))
        out.append("\n")

    section("Disclosures (who has the data)")
    if not d.disclosures:
        out.append("none recorded\n", "dim")
    for x in d.disclosures:
        out.append(f"{day(x.disclosed_on)}  {x.recipient_kind.replace('_', ' ')}: ")
        out.append_text(_t(x.recipient))
        out.append(" — ")
        out.append_text(_t(f"{x.purpose}; {', '.join(x.data_categories)}; basis: {x.legal_basis}"))
        out.append("\n")
    return out


#: Form fields and their labels; e-mail only when creating (addresses have their own commands).
FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("email", "E-mail(s)"),
    ("phone", "Phone"),
    ("company", "Company"),
    ("billing_address", "Billing addr."),
    ("shipping_address", "Shipping addr."),
)


class CustomerForm(FormModal[CustomerDetail]):
    """New customer (``detail`` None) or edit of contact fields. Errors show under the field."""

    BINDINGS = [
        Binding("ctrl+s,f2", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, detail: CustomerDetail | None = None, *,
                 prefill: dict[str, str] | None = None) -> None:
        super().__init__(classes="form")
        self.detail = detail
        self.prefill = prefill or {}
        #: Set when the save hit someone else's change and the person chose to reload.
        self.conflicted = False

    def _value(self, name: str) -> str:
        if self.detail is None:
            return self.prefill.get(name, "")
        value = getattr(self.detail, name, None)
        return value or ""

    def compose(self) -> ComposeResult:
        title = "New customer" if self.detail is None else f"Edit customer #{self.detail.id}"
        with VerticalScroll(id="form-box"):
            yield Static(f"{title}   (ctrl+s save · Esc cancel)", classes="form-title")
            for name, label in FIELDS:
                if name == "email" and self.detail is not None:
                    continue
                with Horizontal(classes="field-row"):
                    yield Static(label, classes="field-label")
                    yield Input(self._value(name), id=f"f-{name}", compact=True,
                                placeholder="several: separate with commas"
                                if name == "email" else "")
                yield Static("", id=f"err-{name}", classes="field-error")
            if self.detail is None:
                yield Checkbox("Customer is under 13", id="f-under_13", compact=True)
            yield Static("", id="err-form", classes="field-error")

    def on_mount(self) -> None:
        self.clear_errors()
        self.query_one("#f-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def action_save(self) -> None:
        values = {name: self.query_one(f"#f-{name}", Input).value
                  for name, _ in FIELDS if self.query(f"#f-{name}")}
        self.clear_errors()
        desk = self.desk
        if self.detail is None:
            emails = [e.strip() for e in values.pop("email", "").split(",") if e.strip()]
            under_13 = self.query_one("#f-under_13", Checkbox).value
            fields = {k: v or None for k, v in values.items()}
            fields["name"] = values["name"]

            def call() -> CustomerDetail:
                return customers.create(desk, emails=emails, under_13=under_13, **fields)  # type: ignore[arg-type]
        else:
            customer = self.detail

            def call() -> CustomerDetail:
                return customers.update(desk, customer_id=customer.id,
                                        expected_version=customer.version,
                                        **{k: v or None for k, v in values.items()})
        self.load("save", call, self.dismiss, failed=self._field_error,
                  reload=self._reload_after_conflict)

    def _reload_after_conflict(self) -> None:
        self.conflicted = True
        self.dismiss(None)

    def _field_error(self, exc: Exception) -> bool:
        """Field errors go under the field; a plain conflict goes to the app's reload dialog."""
        if isinstance(exc, Conflict) and not exc.field:
            return False
        return self.show_error(exc)
