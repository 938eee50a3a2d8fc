"""The rest of the customer record in the desk, and answers by policy topic.

On a customer profile: ``a`` adds an e-mail address, ``E`` removes one or makes it the primary
address, ``b`` records a purchase or a product registration. Each form takes the case the change
answers (a correction request), and each change lands in the record's history shown on the
profile, the case and the access export. Anywhere: ``Q`` picks a policy topic and shows the
canned answer, quoting only the policy version in force. On a case: ``f`` saves one of its
attachments to a private file (listed with type and size; never opened or shown by the desk),
``F`` forwards one of its messages as a new .eml (recorded on the case).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from helpdesk.domain import ProductRelation
from helpdesk.errors import Invalid
from helpdesk.services import answers, attachments, customers, forwarding, parsing
from helpdesk.services.readmodels import AttachmentInfo, CaseDetail, CustomerDetail
from screens.dialogs import Field, FormDialog, FormValues, TextDialog, say_saved
from screens.text import clean

if TYPE_CHECKING:
    from screens.app import DeskApp

CASE_LABEL = "Correction request (case number; blank for none)"


def _case(v: FormValues) -> int | None:
    return parsing.optional_id(v["case"], what="case", field="case")


def _saved(app: DeskApp, what: str) -> Callable[[CustomerDetail | None], None]:
    return say_saved(app, lambda d: f"Customer #{d.id}: {what}.")


def add_email(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(v: FormValues) -> CustomerDetail:
        return customers.add_email(desk, customer_id=detail.id, address=v["address"],
                                   primary=v["primary"], expected_version=detail.version,
                                   case_id=_case(v))

    app.push_screen(FormDialog(
        f"Add an e-mail address to customer #{detail.id}",
        [Field.text("address", "E-mail address"),
         Field.check("primary", "Make it the address replies go to"),
         Field.text("case", CASE_LABEL)],
        submit, name="records.email_add", reload=lambda: app.open_customer(detail.id)),
        _saved(app, "address added"))


def change_email(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(v: FormValues) -> CustomerDetail:
        if v["address"] is None:
            raise Invalid("pick one of the customer's addresses", field="address")
        change = customers.remove_email if v["what"] == "remove" else customers.set_primary_email
        return change(desk, customer_id=detail.id, email_id=v["address"],
                      expected_version=detail.version, case_id=_case(v))

    app.push_screen(FormDialog(
        f"An e-mail address of customer #{detail.id}",
        [Field.choice("address", "Address",
                      [(e.address + ("  (primary)" if e.is_primary else ""), e.id)
                       for e in detail.emails]),
         Field.choice("what", "Change", [("Make it the primary address", "primary"),
                                         ("Remove it", "remove")]),
         Field.text("case", CASE_LABEL)],
        submit, name="records.email_change", reload=lambda: app.open_customer(detail.id),
        hint="A customer keeps at least one address; removing the primary one makes the next "
             "one primary."),
        _saved(app, "address changed"))


def add_product(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(v: FormValues) -> CustomerDetail:
        return customers.add_product(
            desk, customer_id=detail.id, relation=v["relation"], product=v["product"],
            reference=v["reference"] or None, occurred_on=parsing.day(v["date"], field="date"),
            expected_version=detail.version)

    app.push_screen(FormDialog(
        f"Purchase or registration of customer #{detail.id}",
        [Field.choice("relation", "What", [("Purchase", ProductRelation.PURCHASE),
                                           ("Product registration",
                                            ProductRelation.REGISTRATION)]),
         Field.text("product", "Product"),
         Field.text("reference", "Order or serial number (optional)"),
         Field.text("date", "Date (YYYY-MM-DD, optional)", placeholder="YYYY-MM-DD")],
        submit, name="records.product_add", reload=lambda: app.open_customer(detail.id)),
        _saved(app, "product recorded"))


def topic_answer(app: DeskApp) -> None:
    desk = app.desk

    def show(result: answers.Answer | None) -> None:
        if result is not None:
            app.push_screen(TextDialog(f"Answer: {result.topic.label}",
                                       lambda: result.text, name="records.answer_text"))

    app.push_screen(FormDialog(
        "Answer a question from the policy in force",
        [Field.choice("topic", "Topic", [(t.label, t) for t in answers.Topic])],
        lambda v: answers.answer(desk, topic=v["topic"]), name="records.answer",
        hint="The answer quotes only the policy's own sentences about the topic."), show)


def save_attachment(app: DeskApp, detail: CaseDetail) -> None:
    """Save one of the case's attachments to a private file; the desk never opens it."""
    desk = app.desk
    listed = [a for m in detail.messages for a in m.attachments]
    if not listed:
        app.notify(f"Case #{detail.case.id} has no attachments.", markup=False)
        return

    def label(a: AttachmentInfo) -> str:
        kept = "" if a.kept else f"  (not kept: {a.withheld or 'erased'})"
        return f"#{a.id} {clean(a.filename or 'unnamed', one_line=True, limit=60)}  " \
               f"{a.content_type}, {a.size:,} bytes{kept}"

    def submit(v: FormValues) -> attachments.SavedAttachment:
        folder = Path(v["folder"] or ".").expanduser()
        return attachments.save(desk, attachment_id=v["attachment"], folder=folder)

    app.push_screen(FormDialog(
        f"Save an attachment of case #{detail.case.id} to a file",
        [Field.choice("attachment", "Attachment", [(label(a), a.id) for a in listed]),
         Field.text("folder", "Folder", str(default_folder()))],
        submit, name="records.attachment_save",
        hint="The file is created readable by you only, never over an existing file; the "
             "desk does not open it. Open it with your own tools."),
        say_saved(app, lambda r: f"Saved attachment #{r.id} to {r.path}.", "Attachment"))


def default_folder() -> Path:
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.home()


def forward_message(app: DeskApp, detail: CaseDetail) -> None:
    """Forward one of the case's messages (to legal, a colleague) as a new .eml file."""
    desk = app.desk
    listed = [m for m in detail.messages if m.body is not None]
    if not listed:
        app.notify(f"Case #{detail.case.id} has no message to forward.", markup=False)
        return

    def submit(v: FormValues) -> forwarding.Forwarded:
        return forwarding.forward(desk, message_id=v["message"], to=parsing.items(v["to"]),
                                  cc=parsing.items(v["cc"]), note=v["note"] or None,
                                  out=Path(v["out"] or "").expanduser())

    app.push_screen(FormDialog(
        f"Forward a message of case #{detail.case.id}",
        [Field.choice("message", "Message",
                      [(f"#{m.id} {m.direction.value} "
                        f"{clean(m.subject or '(no subject)', one_line=True, limit=60)}", m.id)
                       for m in listed], listed[-1].id),
         Field.text("to", "To (addresses, separated by commas)"),
         Field.text("cc", "Cc (optional)"),
         Field.area("note", "Note above the message (optional)", lines=3),
         Field.text("out", "Write the .eml to",
                    str(default_folder() / f"case-{detail.case.id}-forward.eml"))],
        submit, name="records.forward", wide=True,
        hint="Recorded on the case; the file is new and readable by you only."),
        say_saved(app, lambda r: f"Wrote {r.path}; recorded on case #{r.case_id}.", "Forward"))
