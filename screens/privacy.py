"""Privacy actions on the profile and the case view.

Profile: ``o`` opt out of marketing (asks once, ``y`` confirms: it only ever reduces what we send),
``x`` erase (asks for the deletion request's case and a typed confirmation), ``d`` record a
disclosure, ``P`` export everything held to a file, ``U`` flag a child under 13. Case view:
``o`` opt the case's customer out with the case as source, ``x`` erase the customer under this
case (on a deletion request: the whole request, letter, notices and closing included), ``p``
show the policy part that governs the case's kind. Role rules stay in the services; refusals
show as errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from helpdesk import files
from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid
from helpdesk.services import parsing
from helpdesk.services.readmodels import CaseDetail, CustomerDetail
from screens.base import Loader
from screens.dialogs import AskDialog, Field, FormDialog, FormValues, TextDialog, say_saved
from screens.registry import lazy_module

if TYPE_CHECKING:
    from helpdesk.services import (
        access_export,
        answers,
        consent,
        deletion,
        disclosures,
        erasure,
    )
    from screens.app import DeskApp
else:  # loaded on first use, not when the desk starts
    access_export, answers, consent, deletion, disclosures, erasure = (
        lazy_module(f"helpdesk.services.{name}")
        for name in ("access_export", "answers", "consent", "deletion", "disclosures",
                     "erasure"))

CONFIRM_WORD = "ERASE"


def _opt_out(app: DeskApp, *, customer_id: int | None, case_id: int | None,
             name: str | None) -> None:
    """Ask once (one key: ``y``), then opt out in the screen's worker."""
    desk, screen = app.desk, app.screen

    def done(st: consent.MarketingStatus) -> None:
        note = st.statement if st.changed else f"Already opted out. {st.statement}"
        app.notify(note, title=f"Customer #{st.customer_id}", markup=False)

    def answered(yes: bool | None) -> None:
        if yes and isinstance(screen, Loader):  # in the screen's worker, not the UI thread
            screen.change("privacy", lambda: consent.opt_out(desk, customer_id=customer_id,
                                                             case_id=case_id), done)

    app.push_screen(AskDialog(
        f"Opt {name or 'this customer'} out of marketing?",
        "Marketing stops at once, for every address of theirs, and stays stopped.",
        note=CRUCIAL_NOTE, yes="Opt out", no="Cancel"), answered)


#: What an opt-out leaves alone (policy part II).
CRUCIAL_NOTE = ("Crucial information about products or services they bought is still sent "
                "(policy part II).")


def opt_out(app: DeskApp, detail: CustomerDetail) -> None:
    _opt_out(app, customer_id=detail.id, case_id=None, name=detail.name)


def erase(app: DeskApp, detail: CustomerDetail) -> None:
    _erase_dialog(app, detail.id, detail.name, None)


def _erased(info: erasure.ErasureInfo) -> str:
    if info.already_erased:
        return "Already erased: nothing changed."
    return (f"Erasure #{info.id} {info.status}; {len(info.email_hashes)} addresses suppressed; "
            f"archive copies to check: {len(info.archives)}.")


def _erase_dialog(app: DeskApp, customer_id: int, name: str | None, case_id: int | None) -> None:
    desk = app.desk
    fields = [Field.text("confirm", f"Type {CONFIRM_WORD} to confirm")]
    if case_id is None:
        fields.insert(0, Field.text("case", "Number of the deletion request case"))

    def submit(v: FormValues) -> erasure.ErasureInfo:
        request = case_id or parsing.record_id(v["case"], what="customer's deletion request case",
                                               field="case")
        if v["confirm"] != CONFIRM_WORD:
            raise Invalid(f"type {CONFIRM_WORD} (capitals) to confirm the erasure",
                          field="confirm")
        return erasure.erase(desk, customer_id=customer_id, case_id=request)

    app.push_screen(FormDialog(
        f"Erase {name or '(no name)'}, customer #{customer_id}", fields, submit,
        name="privacy.erase",
        hint="Blanks the person's details, addresses, messages and notes for good and keeps "
             "a record without personal data. This cannot be undone."),
        say_saved(app, _erased, f"Customer #{customer_id}"))


def disclosure_dialog(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(v: FormValues) -> disclosures.DisclosureInfo:
        return disclosures.add(
            desk, customer_id=detail.id, recipient=v["recipient"],
            recipient_kind=v["recipient_kind"], purpose=v["purpose"],
            data_categories=parsing.items(v["data_categories"]),
            disclosed_on=parsing.required_day(v["disclosed_on"], field="disclosed_on",
                                              label="the disclosure date"),
            legal_basis=v["legal_basis"])

    app.push_screen(FormDialog(
        f"Record a disclosure of customer #{detail.id}'s data",
        [Field.text("recipient", "Recipient (company or body)"),
         Field.choice("recipient_kind", "Kind of recipient",
                      [(label, kind) for kind, label in disclosures.KIND_LABELS.items()]),
         Field.text("purpose", "Purpose"),
         Field.text("data_categories", "Data disclosed, comma separated"),
         Field.text("disclosed_on", "Date", placeholder="YYYY-MM-DD"),
         Field.text("legal_basis", "Legal basis or contract")],
        submit, name="privacy.disclosure",
        hint="The company does not sell customer information: a sale cannot be recorded."),
        say_saved(app, lambda info: f"Disclosure #{info.id} recorded."))


def export_dialog(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(v: FormValues) -> Path:
        if not v["path"]:
            raise Invalid("give a file to write (.json for JSON, anything else for text)",
                          field="path")
        path = Path(v["path"]).expanduser()
        files.check_target(path, field="path")  # before the export is taken and audited
        data = access_export.export(desk, customer_id=detail.id)
        text = (access_export.to_json(data) if path.suffix.lower() == ".json"
                else access_export.to_text(data))
        files.write_private(path, text)
        return path

    app.push_screen(FormDialog(
        f"Export everything held about customer #{detail.id}",
        [Field.text("path", "File to write", placeholder="e.g. ~/customer.json or ~/customer.txt")],
        submit, name="privacy.export",
        hint="The file is readable by you only. Taking an export is recorded in the audit."),
        say_saved(app, lambda path: f"Wrote the export of customer #{detail.id} to {path}"))


def under_13_dialog(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk
    app.push_screen(FormDialog(
        f"Customer #{detail.id} is a child under 13", [],
        lambda _v: consent.mark_under_13(desk, customer_id=detail.id,
                                         expected_version=detail.version),
        name="privacy.under_13",
        hint="Blocks marketing for good, suppresses the addresses, removes product "
             "registrations (collected for marketing) and opens a parental request case."),
        say_saved(app, lambda r: f"Marked under 13; parental request case #{r.case_id}; product "
                                 f"registrations removed: {r.registrations_removed}."))


def governing_text(gov: answers.GoverningPart) -> str:
    """The policy part that governs a case, or why there is none."""
    if gov.part is None:
        return ("No policy version is registered." if gov.policy_version_id is None
                else "No part of the policy in force names this kind of request.")
    return f"Part {gov.part.number}. {gov.part.title}  ({gov.policy_label})\n\n{gov.part.text}"


def policy_part(app: DeskApp, detail: CaseDetail) -> None:
    desk, case_id = app.desk, detail.case.id
    app.push_screen(TextDialog(
        f"Case #{case_id}: governing policy part",
        lambda: governing_text(answers.governing_part(desk, case_id=case_id)),
        name="privacy.policy"))


def _case_customer(app: DeskApp, detail: CaseDetail) -> int | None:
    if detail.case.customer_id is None:
        app.notify(f"Case #{detail.case.id} has no customer.", severity="warning")
    return detail.case.customer_id


def case_opt_out(app: DeskApp, detail: CaseDetail) -> None:
    if _case_customer(app, detail) is not None:
        _opt_out(app, customer_id=None, case_id=detail.case.id,
                 name=detail.case.customer_name)


def _deletion_said(flow: deletion.DeletionFlow) -> str:
    by_hand = [n.recipient for n in flow.notices if n.state == deletion.BY_HAND]
    written = len(flow.notices) - len(by_hand)
    said = (f"Case #{flow.case_id} closed: erasure #{flow.erasure_id} {flow.erasure_status}, "
            f"letter written, {written} notice(s) written" if flow.closed else
            f"Case #{flow.case_id} stays open; left: {', '.join(flow.left)}.")
    if by_hand:
        said += f"; tell by hand: {'; '.join(by_hand)}"
    return said


def _deletion_dialog(app: DeskApp, detail: CaseDetail, customer_id: int) -> None:
    """The whole deletion request from the case: erase, letter, notices, close."""
    desk, case = app.desk, detail.case

    def submit(v: FormValues) -> deletion.DeletionFlow:
        if v["confirm"] != CONFIRM_WORD:
            raise Invalid(f"type {CONFIRM_WORD} (capitals) to confirm the erasure",
                          field="confirm")
        if not v["folder"]:
            raise Invalid("give the folder for the letter and the notices", field="folder")
        return deletion.complete(desk, case_id=case.id, folder=Path(v["folder"]).expanduser())

    app.push_screen(FormDialog(
        f"Complete deletion request #{case.id}: erase {case.customer_name or '(no name)'}, "
        f"customer #{customer_id}",
        [Field.text("folder", "Write the letter and the notices (.eml) to", str(Path.home())),
         Field.text("confirm", f"Type {CONFIRM_WORD} to confirm")],
        submit, name="privacy.deletion",
        hint="Erases the person for good, writes the confirmation letter to them and a notice "
             "to every recipient in the disclosure register, then closes the case. Each step "
             "is recorded on the case; a step that cannot happen is named there."),
        say_saved(app, _deletion_said, f"Case #{case.id}"))


def case_erase(app: DeskApp, detail: CaseDetail) -> None:
    customer_id = _case_customer(app, detail)
    if customer_id is None:
        return
    if detail.case.kind is CaseKind.DELETION:
        _deletion_dialog(app, detail, customer_id)
    else:
        _erase_dialog(app, customer_id, detail.case.customer_name, detail.case.id)
