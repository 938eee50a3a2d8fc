"""Privacy actions on the customer profile and the case view.

Profile: ``o`` opt out of marketing (one key, no dialog: it only ever reduces what we send),
``x`` erase (asks for the deletion request's case and a typed confirmation), ``d`` record a
disclosure, ``P`` export everything held to a file, ``U`` flag a child under 13. Case view:
``o`` opt the case's customer out with the case as source, ``x`` erase the customer under this
case, ``p`` show the policy part that governs the case's kind. Role rules stay in the
services; refusals show as errors.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from helpdesk.errors import Invalid
from helpdesk.services import access_export, answers, consent, disclosures, erasure
from helpdesk.services.readmodels import CaseDetail, CustomerDetail
from screens.base import DeskModal, Loader
from screens.disputes import CaseDialog
from screens.registry import CaseAction, CustomerAction, register
from screens.text import lit

if TYPE_CHECKING:
    from screens.app import DeskApp

CONFIRM_WORD = "ERASE"


def _reload(app: DeskApp) -> None:
    app.changes += 1
    reload = getattr(app.screen, "action_reload", None)
    if callable(reload):
        reload()


def _run(app: DeskApp, call: Callable[[], Any], done: Callable[[Any], None]) -> None:
    """Run a service call in the current screen's worker (never on the UI thread)."""
    screen = app.screen
    if isinstance(screen, Loader):
        screen.load("privacy", call, done)


def _opt_out(app: DeskApp, *, customer_id: int | None, case_id: int | None) -> None:
    desk = app.desk

    def done(st: consent.MarketingStatus) -> None:
        note = st.statement if st.changed else f"Already opted out. {st.statement}"
        app.notify(note, title=f"Customer #{st.customer_id}", markup=False)
        _reload(app)

    _run(app, lambda: consent.opt_out(desk, customer_id=customer_id, case_id=case_id), done)


def _erase_dialog(app: DeskApp, customer_id: int, case_id: int | None) -> None:
    desk = app.desk
    fields: tuple[tuple[str, str], ...] = (("confirm", f"type {CONFIRM_WORD} to confirm"),)
    if case_id is None:
        fields = (("case", "number of the deletion request case"), *fields)

    def submit(values: dict[str, str]) -> erasure.ErasureInfo:
        raw_case = values.get("case", str(case_id)).lstrip("#")
        if not raw_case.isdigit():
            raise Invalid("give the number of the customer's deletion request case",
                          field="case")
        if values["confirm"] != CONFIRM_WORD:
            raise Invalid(f"type {CONFIRM_WORD} (capitals) to confirm the erasure",
                          field="confirm")
        return erasure.erase(desk, customer_id=customer_id, case_id=int(raw_case))

    def done(info: erasure.ErasureInfo | None) -> None:
        if info is None:
            return
        if info.already_erased:
            text = "Already erased: nothing changed."
        else:
            text = (f"Erasure #{info.id} {info.status}; {len(info.email_hashes)} addresses "
                    f"suppressed; archive copies to check: {len(info.archives)}.")
        app.notify(text, title=f"Customer #{info.customer_id}", markup=False)
        _reload(app)

    app.push_screen(CaseDialog(
        f"Erase customer #{customer_id}", fields, submit,  # type: ignore[arg-type]
        hint="Blanks the person's details, addresses, messages and notes for good and keeps "
             "a record without personal data. This cannot be undone."), done)


def _disclosure_dialog(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(values: dict[str, str]) -> disclosures.DisclosureInfo:
        try:
            on = date.fromisoformat(values["disclosed_on"])
        except ValueError:
            raise Invalid("the date must look like 2026-03-01", field="disclosed_on") from None
        return disclosures.add(
            desk, customer_id=detail.id, recipient=values["recipient"],
            recipient_kind=values["recipient_kind"], purpose=values["purpose"],
            data_categories=[c.strip() for c in values["data_categories"].split(",")],
            disclosed_on=on, legal_basis=values["legal_basis"])

    def done(info: disclosures.DisclosureInfo | None) -> None:
        if info is not None:
            app.notify(f"Disclosure #{info.id} recorded.", markup=False)
            _reload(app)

    kinds = ", ".join(k.value for k in disclosures.RecipientKind)
    app.push_screen(CaseDialog(
        f"Record a disclosure of customer #{detail.id}'s data",
        (("recipient", "recipient (company or body)"), ("recipient_kind", f"kind: {kinds}"),
         ("purpose", "purpose"), ("data_categories", "data disclosed, comma separated"),
         ("disclosed_on", "date, YYYY-MM-DD"), ("legal_basis", "legal basis or contract")),
        submit,  # type: ignore[arg-type]
        hint="The company does not sell customer information: a sale cannot be recorded."),
        done)


def _export_dialog(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(values: dict[str, str]) -> Path:
        if not values["path"]:
            raise Invalid("give a file to write (.json for JSON, anything else for text)",
                          field="path")
        path = Path(values["path"]).expanduser()
        data = access_export.export(desk, customer_id=detail.id)
        text = (access_export.to_json(data) if path.suffix.lower() == ".json"
                else access_export.to_text(data))
        access_export.write_private(path, text)
        return path

    def done(path: Path | None) -> None:
        if path is not None:
            app.notify(f"Wrote the export of customer #{detail.id} to {path}", markup=False)

    app.push_screen(CaseDialog(
        f"Export everything held about customer #{detail.id}",
        (("path", "file to write, e.g. ~/customer.json or ~/customer.txt"),),
        submit,  # type: ignore[arg-type]
        hint="The file is readable by you only. Taking an export is recorded in the audit."),
        done)


def _under_13_dialog(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(_values: dict[str, str]) -> consent.Under13Result:
        return consent.mark_under_13(desk, customer_id=detail.id,
                                     expected_version=detail.version)

    def done(result: consent.Under13Result | None) -> None:
        if result is not None:
            app.notify(f"Marked under 13; parental request case #{result.case_id}; product "
                       f"registrations removed: {result.registrations_removed}.", markup=False)
            _reload(app)

    app.push_screen(CaseDialog(
        f"Customer #{detail.id} is a child under 13", (), submit,  # type: ignore[arg-type]
        hint="Blocks marketing for good, suppresses the addresses, removes product "
             "registrations (collected for marketing) and opens a parental request case."),
        done)


class PolicyPartScreen(DeskModal[None]):
    """The Part of the policy in force that governs a case's kind, read-only."""

    DEFAULT_CSS = """
    PolicyPartScreen { align: center middle; }
    PolicyPartScreen > Vertical {
        width: 90; height: 80%; border: thick $accent; background: $surface; padding: 1 2;
    }
    PolicyPartScreen .dialog-title { text-style: bold; }
    """
    BINDINGS = [Binding("escape,q", "cancel", "Close", id="privacy.policy.close")]

    def __init__(self, case_id: int) -> None:
        super().__init__()
        self.case_id = case_id
        self.governing: answers.GoverningPart | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Case #{self.case_id}: governing policy part", classes="dialog-title")
            with VerticalScroll():
                yield Static("loading…", id="policy-text")
            yield Static("Esc close")

    def on_mount(self) -> None:
        self.load("policy-part", lambda: answers.governing_part(self.desk, case_id=self.case_id),
                  self._show)

    def _show(self, gov: answers.GoverningPart) -> None:
        self.governing = gov
        text = self.query_one("#policy-text", Static)
        if gov.part is None:
            text.update("No policy version is registered." if gov.policy_version_id is None
                        else "No part of the policy in force names this kind of request.")
            return
        text.update(lit(f"Part {gov.part.number}. {gov.part.title}  ({gov.policy_label})\n\n"
                        f"{gov.part.text}"))


def _case_customer(app: DeskApp, detail: CaseDetail) -> int | None:
    if detail.case.customer_id is None:
        app.notify(f"Case #{detail.case.id} has no customer.", severity="warning")
    return detail.case.customer_id


def _case_opt_out(app: DeskApp, detail: CaseDetail) -> None:
    if _case_customer(app, detail) is not None:
        _opt_out(app, customer_id=None, case_id=detail.case.id)


def _case_erase(app: DeskApp, detail: CaseDetail) -> None:
    customer_id = _case_customer(app, detail)
    if customer_id is not None:
        _erase_dialog(app, customer_id, detail.case.id)


register(
    CustomerAction(id="privacy.opt_out", title="Opt out", key="o",
                   help="Stop marketing to this customer now (transactional mail continues)",
                   run=lambda app, d: _opt_out(app, customer_id=d.id, case_id=None)),
    CustomerAction(id="privacy.erase", title="Erase", key="x",
                   help="Erase this customer under their deletion request",
                   run=lambda app, d: _erase_dialog(app, d.id, None)),
    CustomerAction(id="privacy.disclosure", title="Disclosure", key="d",
                   help="Record who received this customer's data", run=_disclosure_dialog),
    CustomerAction(id="privacy.export", title="Export data", key="P",
                   help="Write everything held about this customer to a file",
                   run=_export_dialog),
    CustomerAction(id="privacy.under_13", title="Under 13", key="U",
                   help="Flag a child under 13 and start the parental request",
                   run=_under_13_dialog),
    CaseAction(id="privacy.case_opt_out", title="Opt out", key="o",
               help="Opt the case's customer out of marketing, citing this case",
               run=_case_opt_out),
    CaseAction(id="privacy.case_erase", title="Erase", key="x",
               help="Erase the case's customer under this request", run=_case_erase),
    CaseAction(id="privacy.policy", title="Policy part", key="p",
               help="The part of the privacy policy that governs this kind of case",
               run=lambda app, d: app.push_screen(PolicyPartScreen(d.case.id))),
)
