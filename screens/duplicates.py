"""Duplicate customers and merging: ``D`` lists customer records that look like one person;
Enter opens the first of a pair, where ``M`` merges the other record into it after a typed
confirmation. Role rules stay in the services; refusals show as errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpdesk.errors import Invalid
from helpdesk.services import parsing
from helpdesk.services.readmodels import CustomerDetail
from screens.base import ListScreen
from screens.dialogs import Field, FormDialog, FormValues, say_saved
from screens.registry import lazy_module
from screens.text import cell
from screens.widgets import ListColumn, Row

if TYPE_CHECKING:
    from helpdesk.services import merge
    from helpdesk.services.context import Desk
    from screens.app import DeskApp
else:  # loaded on first use, not when the desk starts
    merge = lazy_module("helpdesk.services.merge")

MERGE_WORD = "MERGE"

PAIR_COLUMNS = (
    ListColumn("first_id", "#", 7, priority=0),
    ListColumn("first_name", "Name", 18, priority=0, flex=True),
    ListColumn("first_email", "E-mail", 22, priority=2),
    ListColumn("second_id", "#", 7, priority=0),
    ListColumn("second_name", "Name", 18, priority=1, flex=True),
    ListColumn("second_email", "E-mail", 22, priority=2),
    ListColumn("why", "Why", 20, priority=1),
)


def pair_row(p: merge.DuplicatePair) -> Row:
    return f"{p.first.id}:{p.second.id}", (
        cell(p.first.id), cell(p.first.name), cell(p.first.primary_email),
        cell(p.second.id), cell(p.second.name), cell(p.second.primary_email),
        cell("; ".join(p.reasons)),
    )


class DuplicatesScreen(ListScreen["merge.DuplicatePair"]):
    """Customer records that look like one person; Enter opens the first of the pair, where
    ``M`` merges the other record into it."""

    TITLE_LINE = "Possible duplicate customers (Enter opens the first; M there merges)"
    COLUMNS = PAIR_COLUMNS
    KINDS = frozenset({"customer"})

    def items(self, desk: Desk) -> list[merge.DuplicatePair]:
        return merge.duplicates(desk)

    def row(self, item: merge.DuplicatePair) -> Row:
        return pair_row(item)

    def chosen(self, item: merge.DuplicatePair) -> None:
        self.desk_app.open_customer(item.first.id)


def merge_dialog(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(v: FormValues) -> merge.MergeResult:
        other = parsing.record_id(v["other"], what="other customer record", field="other")
        if v["confirm"] != MERGE_WORD:
            raise Invalid(f"type {MERGE_WORD} (capitals) to confirm the merge", field="confirm")
        return merge.merge(desk, keep_id=detail.id, other_id=other, keep_version=detail.version)

    app.push_screen(FormDialog(
        f"Merge another record of this person into customer #{detail.id}",
        [Field.text("other", "Number of the other customer record"),
         Field.text("confirm", f"Type {MERGE_WORD} to confirm")],
        submit, name="customers.merge",
        hint="Moves the other record's addresses, cases, consent history and disclosures here "
             "and removes it. An opt-out on either record stays. This cannot be undone."),
        say_saved(app, lambda r: f"Customer #{r.merged_id} merged in; "
                                 f"{sum(r.moved.values())} records moved.",
                  f"Customer #{detail.id}"))
