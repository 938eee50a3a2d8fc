"""The whole customer record: edits, addresses and products by service and CLI, the record's
change history (old -> new, when, by whom, under which case) in the case, the profile and the
access export, and erasure taking the history's values with everything else."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.db.models import FieldChange
from helpdesk.domain import CaseKind
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import access_export, cases, customers, erasure
from helpdesk.services.context import Desk
from tests.conftest import verified_request

OLD_NAME = "Quin Archerr"  # the typo the customer asks us to correct


def _customer(desk: Desk) -> int:
    return customers.create(desk, name=OLD_NAME, emails=["quinn@example.com"],
                            billing_address="5 Bow Street\nLeeds").id


def test_a_correction_shows_old_and_new_in_the_case_profile_and_export(desk: Desk) -> None:
    cid = _customer(desk)
    case = verified_request(desk, cid, CaseKind.CORRECTION).case
    customers.update(desk, customer_id=cid, case_id=case.id, name="Quinn Archer",
                     billing_address="7 New Road\nLeeds")
    customers.add_email(desk, customer_id=cid, address="q.archer@example.org", primary=True,
                        case_id=case.id)

    detail = cases.get(desk, case.id)
    seen = {(c.field, c.old_value, c.new_value) for c in detail.corrections}
    assert seen == {("name", OLD_NAME, "Quinn Archer"),
                    ("billing_address", "5 Bow Street\nLeeds", "7 New Road\nLeeds"),
                    ("email", None, "q.archer@example.org"),
                    ("primary_email", "quinn@example.com", "q.archer@example.org")}
    assert {(c.agent_name, c.case_id) for c in detail.corrections} == {("alice", case.id)}

    profile = customers.get(desk, cid)
    assert [c.field for c in profile.changes] == [c.field for c in detail.corrections]
    assert profile.primary_email == "q.archer@example.org"

    verified_request(desk, cid, CaseKind.ACCESS)
    data = access_export.export(desk, customer_id=cid)
    exported = json.loads(access_export.to_json(data))["changes"]
    assert {(c["field"], c["old_value"], c["new_value"]) for c in exported} == seen
    text = access_export.to_text(data)
    assert f"name: {OLD_NAME} -> Quinn Archer (by alice, case #{case.id})" in text


def test_a_change_under_someone_elses_case_is_refused(desk: Desk) -> None:
    cid = _customer(desk)
    other = customers.create(desk, name="Rhea Vance", emails=["rhea@example.com"]).id
    theirs = cases.create(desk, kind=CaseKind.CORRECTION, customer_id=other).case.id
    with pytest.raises(Invalid, match="not a case of customer"):
        customers.update(desk, customer_id=cid, case_id=theirs, name="Quinn Archer")
    with pytest.raises(NotFound):
        customers.add_email(desk, customer_id=cid, address="x@example.com", case_id=999)
    assert customers.get(desk, cid).name == OLD_NAME


def test_addresses_by_id_or_address_keep_one_and_refuse_strangers(desk: Desk) -> None:
    cid = _customer(desk)
    other = customers.create(desk, name="Rhea Vance", emails=["rhea@example.com"]).id
    d = customers.add_email(desk, customer_id=cid, address="Quinn@Work.Example")
    with pytest.raises(NotFound):  # another customer's address is not this one's to remove
        customers.remove_email(desk, customer_id=cid, email_id="rhea@example.com")
    d = customers.set_primary_email(desk, customer_id=cid, email_id="quinn@work.example")
    assert d.primary_email == "Quinn@work.example"
    d = customers.remove_email(desk, customer_id=cid, email_id=d.emails[0].id)
    assert [e.address for e in d.emails] == ["quinn@example.com"] and d.emails[0].is_primary
    assert [(c.field, c.old_value, c.new_value) for c in d.changed] == [
        ("email", "Quinn@work.example", None),
        ("primary_email", "Quinn@work.example", "quinn@example.com")]
    with pytest.raises(Invalid, match="at least one"):
        customers.remove_email(desk, customer_id=cid, email_id="quinn@example.com")
    with pytest.raises(Conflict):
        customers.add_email(desk, customer_id=cid, address="RHEA@example.com")
    assert customers.get(desk, other).emails[0].address == "rhea@example.com"


def test_products_with_dates_in_profile_and_export(desk: Desk) -> None:
    cid = _customer(desk)
    customers.add_product(desk, customer_id=cid, relation="purchase", product="Longbow",
                          reference="ORD-7", occurred_on=date(2025, 11, 2))
    customers.add_product(desk, customer_id=cid, relation="registration", product="Quiver",
                          occurred_on=date(2024, 1, 5))
    assert [(p.product, p.occurred_on) for p in customers.products(desk, cid)] == [
        ("Quiver", date(2024, 1, 5)), ("Longbow", date(2025, 11, 2))]
    verified_request(desk, cid, CaseKind.ACCESS)
    data = access_export.export(desk, customer_id=cid)
    assert [p.product for p in data.purchases] == ["Longbow"]
    assert "Longbow ORD-7 2025-11-02" in access_export.to_text(data)
    with pytest.raises(Invalid, match="future"):
        customers.add_product(desk, customer_id=cid, relation="purchase", product="Arrow",
                              occurred_on=date(2027, 1, 1))
    stale = customers.get(desk, cid).version - 1
    with pytest.raises(Conflict):
        customers.add_product(desk, customer_id=cid, relation="purchase", product="Arrow",
                              expected_version=stale)


def test_erasure_takes_the_history_values_and_keeps_the_record_that_it_changed(
    desk: Desk, tmp_path: Path
) -> None:
    cid = _customer(desk)
    case = verified_request(desk, cid, CaseKind.CORRECTION).case
    customers.update(desk, customer_id=cid, case_id=case.id, name="Quinn Archer",
                     phone="+44 113 496 0000")
    deletion = verified_request(desk, cid, CaseKind.DELETION).case
    erasure.erase(desk, customer_id=cid, case_id=deletion.id)

    with desk.db.engine.connect() as conn:
        rows = conn.execute(sa.select(FieldChange.field, FieldChange.old_value,
                                      FieldChange.new_value, FieldChange.values_erased)).all()
    assert sorted(rows) == [("name", None, None, True), ("phone", None, None, True)]
    [change, _] = cases.get(desk, case.id).corrections
    assert change.values_erased and change.case_id == case.id
    if desk.db.sqlite_path is not None:
        raw = desk.db.sqlite_path.read_bytes()
        assert OLD_NAME.encode() not in raw and b"496 0000" not in raw


# --- the CLI -------------------------------------------------------------------------------------

def test_cli_edit_email_and_product_with_json_and_exit_codes(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("customer", "add", "--name", OLD_NAME, "--email", "quinn@example.com")[0] == 0
    assert cli("case", "new", "--kind", "correction", "--customer", "1")[0] == 0
    assert cli("case", "verify", "1", "--method", "identity_document")[0] == 0

    code, out, _ = cli("customer", "edit", "1", "--name", "Quinn Archer", "--case", "1",
                       "--json")
    changed = json.loads(out)["changed"]
    assert code == 0 and [(c["field"], c["old_value"], c["new_value"], c["case_id"])
                          for c in changed] == [("name", OLD_NAME, "Quinn Archer", 1)]
    code, out, _ = cli("customer", "edit", "1", "--name", "Quinn Archer")
    assert code == 0 and "nothing changed" in out
    assert cli("customer", "edit", "1")[0] == 6  # nothing to change
    assert cli("customer", "edit", "1", "--name", "")[0] == 6  # the name is required
    assert cli("customer", "edit", "9", "--company", "X")[0] == 3
    assert cli("customer", "edit", "1", "--company", "X", "--version", "1")[0] == 5

    code, out, _ = cli("customer", "email", "add", "1", "q@work.example", "--primary")
    assert code == 0 and "primary_email: quinn@example.com -> q@work.example" in out
    assert cli("customer", "email", "add", "1", "not an address")[0] == 6
    assert cli("customer", "email", "add", "1", "Q@WORK.example")[0] == 5
    code, out, _ = cli("customer", "email", "primary", "1", "quinn@example.com", "--json")
    assert code == 0 and json.loads(out)["emails"][0]["address"] == "quinn@example.com"
    code, out, _ = cli("customer", "email", "remove", "1", "q@work.example")
    assert code == 0 and "email: q@work.example -> (empty)" in out
    assert cli("customer", "email", "remove", "1", "quinn@example.com")[0] == 6
    assert cli("customer", "email", "remove", "1", "#999")[0] == 3

    code, out, _ = cli("customer", "product", "add", "1", "--relation", "registration",
                       "--product", "Quiver \x1b[31m", "--date", "2025-02-03", "--json")
    assert code == 0 and json.loads(out)["products"][0]["occurred_on"] == "2025-02-03"
    assert cli("customer", "product", "add", "1", "--relation", "gift", "--product", "X")[0] == 2
    assert cli("customer", "product", "add", "1", "--relation", "purchase", "--product", "X",
               "--date", "03/02/2025")[0] == 6
    code, out, _ = cli("customer", "product", "list", "1")
    assert code == 0 and "Quiver" in out and "2025-02-03" in out and "\x1b" not in out
    code, out, _ = cli("customer", "product", "list", "1", "--json")
    assert [p["relation"] for p in json.loads(out)] == ["registration"]

    code, out, _ = cli("case", "show", "1")
    assert f"name: {OLD_NAME} -> Quinn Archer  by alice, case #1" in out
    code, out, _ = cli("customer", "show", "1")
    assert "changes:" in out and "email: (empty) -> q@work.example" in out
    assert "registration: Quiver" in out and "(2025-02-03)" in out
