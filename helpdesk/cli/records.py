"""The whole customer record from the command line: edit the contact fields, add, remove and
choose the primary e-mail address, record purchases and product registrations.

Every change goes through the customer services: audited, kept in the record's change history
(old -> new, who, when, under which case), visible in the profile and the access export, and
removed by erasure.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from helpdesk.cli.output import CliContext, command, emit, group, safe, subcommands, table
from helpdesk.domain import ProductRelation
from helpdesk.errors import Invalid
from helpdesk.services import customers, parsing
from helpdesk.services.readmodels import CustomerDetail, FieldChangeInfo, ProductInfo


def register(sub: Any) -> None:
    cu = subcommands(sub, "customer")
    p = command(cu, "edit", customer_edit, "change a customer's contact fields (kept in the "
                "record's change history)", json_output=True)
    p.add_argument("customer", metavar="CUSTOMER")
    for field in customers.EDITABLE_FIELDS:
        p.add_argument(f"--{field.replace('_', '-')}", dest=field, metavar="TEXT",
                       help="'' clears it" if field != "name" else None)
    _change_options(p)

    em = group(cu, "email", "a customer's e-mail addresses")
    p = command(em, "add", email_add, "add an address", json_output=True)
    p.add_argument("customer", metavar="CUSTOMER")
    p.add_argument("address")
    p.add_argument("--primary", action="store_true", help="make it the address replies go to")
    _change_options(p)
    for name, handler, text in (
        ("remove", email_remove, "remove an address (the customer keeps at least one)"),
        ("primary", email_primary, "make an address the one replies go to"),
    ):
        p = command(em, name, handler, text, json_output=True)
        p.add_argument("customer", metavar="CUSTOMER")
        p.add_argument("address", help="the address, or its id as the profile shows it")
        _change_options(p)

    pr = group(cu, "product", "purchases and product registrations (policy Part I)")
    p = command(pr, "add", product_add, "record a purchase or a registration", json_output=True)
    p.add_argument("customer", metavar="CUSTOMER")
    p.add_argument("--relation", required=True, choices=[r.value for r in ProductRelation])
    p.add_argument("--product", required=True)
    p.add_argument("--reference", help="order or serial number")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="when it was bought or registered")
    p.add_argument("--version", type=int, metavar="V", help="the customer version you saw")
    p = command(pr, "list", product_list, "a customer's purchases and registrations (audited)",
                json_output=True)
    p.add_argument("customer", metavar="CUSTOMER")


def _change_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case", metavar="N", help="the request this change answers (a correction)")
    p.add_argument("--version", type=int, metavar="V", help="the customer version you saw")


def _customer(args: argparse.Namespace) -> int:
    return parsing.record_id(args.customer, what="customer", field="customer")


def _case(args: argparse.Namespace) -> int | None:
    return parsing.optional_id(getattr(args, "case", None), what="case", field="case")


def change_lines(changes: tuple[FieldChangeInfo, ...]) -> list[str]:
    """The change history as lines: when, field, old -> new, by whom, under which case."""
    def value(v: str | None, c: FieldChangeInfo) -> str:
        return "(erased)" if c.values_erased else safe(v) if v is not None else "(empty)"

    return [f"    {safe(c.at)} {c.field}: {value(c.old_value, c)} -> {value(c.new_value, c)}"
            f"  by {safe(c.agent_name)}" + (f", case #{c.case_id}" if c.case_id else "")
            for c in changes]


def _change(args: argparse.Namespace, ctx: CliContext, call: Callable[..., CustomerDetail],
            **values: object) -> int:
    """Run one change of the record with the customer, version and case the command names,
    and say what it wrote."""
    d = call(ctx.desk(), customer_id=_customer(args), expected_version=args.version,
             case_id=_case(args), **values)
    emit(args, d, lambda: [f"customer #{d.id} (version {d.version}):",
                           *change_lines(d.changed)] if d.changed else [
        f"customer #{d.id}: nothing changed"])
    return 0


def customer_edit(args: argparse.Namespace, ctx: CliContext) -> int:
    fields = {f: getattr(args, f) for f in customers.EDITABLE_FIELDS
              if getattr(args, f) is not None}
    if not fields:
        raise Invalid("nothing to change: give at least one of "
                      + ", ".join(f"--{f.replace('_', '-')}" for f in customers.EDITABLE_FIELDS))
    return _change(args, ctx, customers.update, **fields)


def email_add(args: argparse.Namespace, ctx: CliContext) -> int:
    return _change(args, ctx, customers.add_email, address=args.address, primary=args.primary)


def email_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    return _change(args, ctx, customers.remove_email, email_id=args.address)


def email_primary(args: argparse.Namespace, ctx: CliContext) -> int:
    return _change(args, ctx, customers.set_primary_email, email_id=args.address)


def product_lines(items: tuple[ProductInfo, ...]) -> list[str]:
    return table([(f"#{p.id}", p.relation, p.product, p.reference, p.occurred_on)
                  for p in items], ["ID", "RELATION", "PRODUCT", "REFERENCE", "DATE"])


def product_add(args: argparse.Namespace, ctx: CliContext) -> int:
    d = customers.add_product(
        ctx.desk(), customer_id=_customer(args), relation=args.relation, product=args.product,
        reference=args.reference, occurred_on=parsing.day(args.date, field="date"),
        expected_version=args.version)
    emit(args, d, lambda: [f"customer #{d.id}: {len(d.products)} product(s)",
                           *product_lines(d.products)])
    return 0


def product_list(args: argparse.Namespace, ctx: CliContext) -> int:
    items = customers.products(ctx.desk(), _customer(args))
    emit(args, items, lambda: product_lines(items) if items else ["no purchases or "
                                                                 "registrations"])
    return 0
