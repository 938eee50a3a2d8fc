"""Customer profile (an audited view of personal data) and the new/edit customer form."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from helpdesk.services import customers, disclosures, parsing
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CaseDetail, CustomerDetail, consent_policy
from screens.base import DeskChanged, Loader, RecordScreen
from screens.case import changes_text, link_form
from screens.dialogs import Field, FormDialog, FormValues
from screens.main import CaseTable
from screens.text import clean, day, when
from screens.widgets import DetailScroll, ListTable

if TYPE_CHECKING:
    from screens.app import DeskApp

CRUCIAL_MAIL = (
    "Crucial information about products or services the customer bought is still sent after a "
    "marketing opt-out (policy part II); only marketing stops."
)


class CustomerScreen(RecordScreen):
    """Everything the desk knows about one customer, with edit / new case / registered actions.
    Changes to the customer or their cases made anywhere show within seconds."""

    SLOT = "customer"
    FOCUS = "#customer-cases"  # its cases are what one opens a profile to work on
    BINDINGS = [
        Binding("e", "edit", "Edit", id="customer.edit"),
        Binding("n", "new_case", "New case", id="customer.new_case"),
        Binding("r", "reload", "Reload", id="customer.reload"),
    ]

    detail: CustomerDetail | None

    @property
    def customer_id(self) -> int:
        return self.record_id

    def compose(self) -> ComposeResult:
        with DetailScroll(id="detail"):
            yield Static(f"Customer #{self.customer_id} — loading…", id="contact")
            yield Static("Cases", classes="section")
            yield CaseTable(self.desk.settings.tz, id="customer-cases")
            yield Static("", id="more")

    def action_reload(self) -> None:
        self.load("customer", lambda: customers.get(self.desk, self.customer_id), self.show_detail,
                  failed=self.gone)

    def desk_changed(self, event: DeskChanged) -> None:
        shown = [c.id for c in self.detail.cases] if self.detail else []
        if event.touches("customer", [self.customer_id]) or (
            shown and event.touches("case", shown)
        ):
            self.action_reload()

    def show_detail(self, d: CustomerDetail) -> None:
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
        self.query_one("#customer-cases", CaseTable).set_items(d.cases)
        self.query_one("#more", Static).update(_more(d, tz))
        self.sub_title = f"customer #{d.id}"
        self.refresh_bindings()

    def on_list_table_row_selected(self, event: ListTable.RowSelected) -> None:
        self.desk_app.open_case(int(event.row_key))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"edit", "new_case"} and self.detail is not None and self.detail.erased_at:
            return None  # greyed: nothing is left to edit, and no case opens for them
        return super().check_action(action, parameters)

    def action_edit(self) -> None:
        if self.detail is None:
            return

        def saved(detail: CustomerDetail | None) -> None:
            if detail is not None:
                self.show_detail(detail)

        self.app.push_screen(customer_form(self.desk, self.detail, reload=self.action_reload),
                             saved)

    def action_new_case(self) -> None:
        self.desk_app.action_new_case(self.customer_id)


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

    section("Changes to this record")
    if not d.changes:
        out.append("none recorded\n", "dim")
    out.append_text(changes_text(d.changes, tz))

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
        out.append(", ")
        out.append_text(_t(consent_policy(c, lambda at: when(at, tz))))
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


#: Contact fields of the customer form and their labels (e-mail only when creating: addresses
#: have their own commands).
FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("email", "E-mail(s), separated by commas"),
    ("phone", "Phone"),
    ("company", "Company"),
    ("billing_address", "Billing address"),
    ("shipping_address", "Shipping address"),
)


def _field(name: str, label: str, value: str) -> Field:
    """Addresses span lines (a text area); the other contact fields are one line."""
    if customers.EDITABLE_FIELDS.get(name):
        return Field.area(name, label, value, lines=2)
    return Field.text(name, label, value)


def customer_form(desk: Desk, detail: CustomerDetail | None = None, *,
                  prefill: dict[str, str] | None = None,
                  reload: Callable[[], None] | None = None) -> FormDialog[CustomerDetail]:
    """New customer (``detail`` None, optionally ``prefill``-ed) or an edit of the contact
    fields; errors show on the form's error line and focus the field they name."""
    if detail is None:
        values = prefill or {}
        fields = [_field(name, label, values.get(name, "")) for name, label in FIELDS]
        fields.append(Field.check("under_13", "Customer is under 13"))

        def create(v: FormValues) -> CustomerDetail:
            return customers.create(
                desk, name=v["name"], emails=parsing.items(v["email"]), under_13=v["under_13"],
                **{k: v[k] or None for k in ("phone", "company", "billing_address",
                                             "shipping_address")})

        return FormDialog("New customer", fields, create, name="customer.new")

    customer = detail

    def update(v: FormValues) -> CustomerDetail:
        case_id = parsing.optional_id(v.pop("case"), what="case", field="case")
        return customers.update(desk, customer_id=customer.id,
                                expected_version=customer.version, case_id=case_id,
                                **{k: value or None for k, value in v.items()})

    return FormDialog(
        f"Edit customer #{customer.id}",
        [*_contact_fields(customer),
         Field.text("case", "Correction request (case number; blank for none)")],
        update, name="customer.edit", reload=reload, hint=HISTORY_HINT,
    )


HISTORY_HINT = ("Every change is kept in the record's history (old → new, who, when, case); "
                "erasure removes the values.")


def _contact_fields(customer: CustomerDetail) -> list[Field]:
    """The editable contact fields, filled with what the record holds now."""
    return [_field(name, label, getattr(customer, name) or "")
            for name, label in FIELDS if name != "email"]


def correction_form(desk: Desk, customer: CustomerDetail, case: CaseDetail
                    ) -> FormDialog[disclosures.CorrectionResult]:
    """The customer's record, to correct under this case: each change is recorded on the case
    (old → new) and the recipients who hold the old data are named afterwards."""
    def correct(v: FormValues) -> disclosures.CorrectionResult:
        return disclosures.correct(desk, case_id=case.case.id, expected_version=customer.version,
                                   **{k: value or None for k, value in v.items()})

    return FormDialog(
        f"Correct {customer.name or 'the customer'} (customer #{customer.id}) under case "
        f"#{case.case.id}", _contact_fields(customer), correct, name="customer.correct",
        hint=HISTORY_HINT,
    )


def _corrected(app: DeskApp, result: disclosures.CorrectionResult | None) -> None:
    if result is None:
        return
    if not result.fields:
        app.notify("Nothing was changed.", markup=False)
        return
    fields = ", ".join(f.replace("_", " ") for f in result.fields)
    told = "; ".join(f"{d.recipient} ({d.recipient_kind.replace('_', ' ')})"
                     for d in result.notify)
    app.notify(f"Corrected {fields} under case #{result.case_id}."
               + (f" Tell the recipients who hold the old data: {told}." if told else ""),
               title=f"Customer #{result.customer.id}", markup=False, timeout=12)


def correct_from_case(app: DeskApp, detail: CaseDetail) -> None:
    """The case's customer form, to correct under this case (with no customer yet: link one)."""
    screen, desk, customer_id = app.screen, app.desk, detail.case.customer_id
    if customer_id is None:
        app.push_screen(link_form(desk, detail))
        return
    if isinstance(screen, Loader):
        screen.load("correct", lambda: customers.get(desk, customer_id),
                    lambda customer: _correct(app, customer, detail))


def _correct(app: DeskApp, customer: CustomerDetail, detail: CaseDetail) -> None:
    if customer.erased_at is not None:
        app.notify(f"Customer #{customer.id} has been erased: nothing is left to correct.",
                   severity="warning", markup=False)
        return
    app.push_screen(correction_form(app.desk, customer, detail),
                    lambda result: _corrected(app, result))
