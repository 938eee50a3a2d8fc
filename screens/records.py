"""The rest of the customer record in the desk, and answers by policy topic.

On a customer profile: ``a`` adds an e-mail address, ``k`` removes one or makes it the primary
address, ``b`` records a purchase or a product registration. Each form takes the case the change
answers (a correction request), and each change lands in the record's history shown on the
profile, the case and the access export. Anywhere: ``Q`` picks a policy topic and shows the
canned answer, quoting only the policy version in force.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from helpdesk.domain import ProductRelation
from helpdesk.errors import Invalid
from helpdesk.services import answers, customers, parsing
from helpdesk.services.readmodels import CustomerDetail
from screens.dialogs import Field, FormDialog, FormValues, TextDialog, say_saved
from screens.registry import CustomerAction, DeskCommand, register

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
            app.push_screen(TextDialog(f"Answer: {result.topic.value.replace('_', ' ')}",
                                       lambda: result.text, name="records.answer_text"))

    app.push_screen(FormDialog(
        "Answer a question from the policy in force",
        [Field.choice("topic", "Topic", [(t.value.replace("_", " "), t)
                                         for t in answers.Topic])],
        lambda v: answers.answer(desk, topic=v["topic"]), name="records.answer",
        hint="The answer quotes only the policy's own sentences about the topic."), show)


register(
    CustomerAction(id="records.email_add", title="Add e-mail", key="a",
                   help="Add an e-mail address (kept in the record's history)", run=add_email),
    CustomerAction(id="records.email_change", title="E-mail: primary/remove", key="k",
                   help="Make an address the primary one, or remove it", run=change_email),
    CustomerAction(id="records.product_add", title="Purchase/registration", key="b",
                   help="Record a purchase or a product registration", run=add_product),
    DeskCommand(id="answers.topic", title="Policy answer", key="Q",
                help="A canned answer by topic, quoting the policy in force",
                open=topic_answer),
)
