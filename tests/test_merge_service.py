"""Customer merge and duplicate suggestions."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from helpdesk.db.models import (
    AuditEvent,
    CaseEvent,
    ConsentEvent,
    Customer,
    CustomerEmail,
    CustomerProduct,
    Disclosure,
    FieldChange,
    Message,
)
from helpdesk.domain import CaseKind, Role
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import agents, customers, merge, suppression
from helpdesk.services.context import Desk
from tests.replies_support import add_customer, open_case, set_customer


def _consent(desk: Desk, customer_id: int, action: str) -> None:
    with desk.db.session(write=True) as s:
        s.add(ConsentEvent(customer_id=customer_id, purpose="marketing", action=action,
                           channel="email", at=desk.now()))


def _disclosure(desk: Desk, customer_id: int) -> None:
    with desk.db.session(write=True) as s:
        s.add(Disclosure(customer_id=customer_id, recipient="Parcel Co",
                         recipient_kind="contractor", purpose="delivery",
                         data_categories=["name"], disclosed_on=date(2026, 1, 5),
                         legal_basis="contract"))


def _count(desk: Desk, model: type, customer_id: int) -> int:
    with desk.db.session() as s:
        return s.exec(select(func.count()).select_from(model)
                      .where(model.customer_id == customer_id)).one()  # type: ignore[attr-defined]


@pytest.fixture
def pair(desk: Desk) -> tuple[int, int]:
    """Two records of one person: the kept one thin, the other with history everywhere."""
    keep = add_customer(desk, name="Jana Novak", email="jana@example.org")
    other = add_customer(desk, name="Jana Novak", email="jana.novak@mail.example",
                         phone="+420 555 0100", company="Acme")
    customers.add_email(desk, customer_id=other, address="jn@other.example")
    customers.add_product(desk, customer_id=other, relation="purchase", product="Cloud 9")
    customers.update(desk, customer_id=other, shipping_address="Street 1")
    _consent(desk, other, "opt_out")
    _disclosure(desk, other)
    open_case(desk, other, CaseKind.ACCESS)
    open_case(desk, other, CaseKind.DELETION)
    open_case(desk, keep, CaseKind.QUESTION)
    return keep, other


def test_merge_keeps_every_related_row(desk: Desk, pair: tuple[int, int]) -> None:
    keep, other = pair
    with desk.db.session() as s:
        messages_before = s.exec(select(func.count()).select_from(Message)).one()
    counts = {m: _count(desk, m, keep) + _count(desk, m, other)
              for m in (CustomerEmail, CustomerProduct, ConsentEvent, Disclosure, FieldChange)}
    result = merge.merge(desk, keep_id=keep, other_id=other)

    for model, total in counts.items():
        assert _count(desk, model, other) == 0, model
        assert _count(desk, model, keep) >= total, model
    assert result.moved["customer_email"] == 2 and result.moved["support_case"] == 2
    d = result.customer
    assert {e.address for e in d.emails} == {"jana@example.org", "jana.novak@mail.example",
                                             "jn@other.example"}
    assert d.primary_email == "jana@example.org"  # the kept record's primary stays primary
    assert len(d.cases) == 3 and len(d.products) == 1 and len(d.disclosures) == 1
    # empty contact fields are filled from the other record, with field history
    assert (d.phone, d.company, d.shipping_address) == ("+420 555 0100", "Acme", "Street 1")
    assert set(result.filled) == {"phone", "company", "shipping_address"}
    with desk.db.session() as s:
        assert s.get(Customer, other) is None
        assert s.exec(select(func.count()).select_from(Message)).one() == messages_before
        moved_events = s.exec(select(CaseEvent).where(
            CaseEvent.action == "customer_merged")).all()
        assert len(moved_events) == 2
        assert {e.to_value for e in moved_events} == {f"customer #{keep}"}
    with pytest.raises(NotFound):
        customers.get(desk, other)


def test_the_opt_out_stays_from_either_side(desk: Desk, pair: tuple[int, int]) -> None:
    keep, other = pair
    set_customer(desk, other, marketing_opted_out=True)
    result = merge.merge(desk, keep_id=keep, other_id=other)
    assert result.marketing_opted_out and result.customer.marketing_opted_out
    assert [c.action for c in result.customer.consent] == ["opt_out"]

    third = add_customer(desk, name="Kid", email="kid@example.org")
    set_customer(desk, third, under_13=True)
    result = merge.merge(desk, keep_id=third, other_id=keep)  # opted-out side merged away
    assert result.customer.marketing_opted_out and result.customer.under_13


def test_merged_addresses_of_a_child_are_suppressed(desk: Desk, pair: tuple[int, int]) -> None:
    keep, other = pair
    set_customer(desk, keep, under_13=True)
    merge.merge(desk, keep_id=keep, other_id=other)
    with desk.db.session() as s:
        assert suppression.is_suppressed(s, desk, "jn@other.example")
        assert suppression.is_suppressed(s, desk, "jana.novak@mail.example")


def test_merge_is_audited_with_ids_only(desk: Desk, pair: tuple[int, int]) -> None:
    keep, other = pair
    merge.merge(desk, keep_id=keep, other_id=other)
    with desk.db.session() as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "customer.merge")).one()
    assert event.object_id == keep and event.details["merged_id"] == other
    assert event.details["moved"]["support_case"] == 2
    assert "Jana" not in str(event.details) and "@" not in str(event.details)


def test_search_follows_the_merge(desk: Desk, pair: tuple[int, int]) -> None:
    keep, other = pair
    merge.merge(desk, keep_id=keep, other_id=other)
    hits = customers.find(desk, "jn@other")
    assert [h.id for h in hits] == [keep]
    assert other not in {h.id for h in customers.find(desk, "Jana")}


def test_merge_is_refused_when_either_side_is_erased(desk: Desk, pair: tuple[int, int]) -> None:
    keep, other = pair
    set_customer(desk, other, erased_at=desk.now())
    with pytest.raises(Conflict, match="erased"):
        merge.merge(desk, keep_id=keep, other_id=other)
    with pytest.raises(Conflict, match="erased"):
        merge.merge(desk, keep_id=other, other_id=keep)
    assert _count(desk, CustomerEmail, other) == 2  # nothing moved


def test_merge_refuses_self_unknown_and_stale(desk: Desk, pair: tuple[int, int]) -> None:
    keep, other = pair
    with pytest.raises(Invalid):
        merge.merge(desk, keep_id=keep, other_id=keep)
    with pytest.raises(NotFound):
        merge.merge(desk, keep_id=keep, other_id=99999)
    version = customers.get(desk, other).version
    customers.update(desk, customer_id=other, name="Jana N.")
    with pytest.raises(Conflict, match="changed"):
        merge.merge(desk, keep_id=keep, other_id=other, other_version=version)


def test_agents_may_merge(desk: Desk, pair: tuple[int, int]) -> None:
    agents.add(desk, name="bob", role=Role.AGENT)
    keep, other = pair
    assert merge.merge(desk.as_agent("bob"), keep_id=keep, other_id=other).merged_id == other


# --- duplicates ----------------------------------------------------------------------------------

def _pairs(desk: Desk) -> dict[tuple[int, int], tuple[str, ...]]:
    return {(p.first.id, p.second.id): p.reasons for p in merge.duplicates(desk)}


def test_duplicates_by_name_company_local_part_and_typos(desk: Desk) -> None:
    a = add_customer(desk, name="Ola Berg", email="ola@acme.example", company="Acme")
    b = add_customer(desk, name=" ola berg", email="o.berg@home.example", company="ACME")
    c = add_customer(desk, name="Someone", email="ola@gmail.example")
    d = add_customer(desk, name="Pat Lee", email="pat.lee@gmail.com")
    e = add_customer(desk, name="P. Lee", email="pat.le@gmail.com")
    f = add_customer(desk, name="Pat Lee", email="pat.lee@gmial.com")
    g = add_customer(desk, name="Unrelated", email="zed@nowhere.example")
    erased = add_customer(desk, name="Ola Berg", email="gone@acme.example", company="Acme")
    set_customer(desk, erased, erased_at=desk.now())

    found = _pairs(desk)
    assert "same name and company" in found[(a, b)]
    assert "same e-mail name at another domain" in found[(a, c)]
    assert any("differ by 1 character" in r for r in found[(d, e)])
    assert any("differ by 2 characters" in r for r in found[(d, f)])
    assert not any(g in pair for pair in found)
    assert not any(erased in pair for pair in found)
    # pairs are ranked by how much evidence they have
    ranked = merge.duplicates(desk)
    assert len(ranked[0].reasons) >= len(ranked[-1].reasons)


def test_duplicates_cost_a_fixed_number_of_queries(desk: Desk) -> None:
    """No query per customer: the database groups, Python only walks sorted neighbours."""
    def statements() -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
            seen.append(statement)

        sa.event.listen(desk.db.engine, "before_cursor_execute", count)  # writer shares events
        try:
            merge.duplicates(desk)
        finally:
            sa.event.remove(desk.db.engine, "before_cursor_execute", count)
        return len(seen)

    def add(n: int, start: int) -> None:
        with desk.db.session(write=True) as s:
            for i in range(start, start + n):
                row = Customer(name=f"Person {i}", company=f"Co {i % 7}")
                s.add(row)
                s.flush()
                s.add(CustomerEmail(customer_id=row.id, address=f"p{i}@x{i % 5}.example",
                                    normalized=f"p{i}@x{i % 5}.example", is_primary=True))

    add(20, 0)
    merge.duplicates(desk)  # the first call on a new desk also registers the acting agent
    small = statements()
    add(400, 20)
    assert statements() == small


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@settings(max_examples=3000, deadline=None)
@given(st.text("abc.@", max_size=9), st.text("abc.@", max_size=9))
def test_typo_distance_agrees_with_levenshtein_up_to_two(a: str, b: str) -> None:
    expected = _levenshtein(a, b)
    assert merge.typo_distance(a, b) == (expected if expected <= 2 else None)


def test_typo_distance_examples() -> None:
    assert merge.typo_distance("anna@x.org", "ana@x.org") == 1
    assert merge.typo_distance("pat.lee@gmail.com", "pat.lee@gmial.com") == 2
    assert merge.typo_distance("abcdef@x", "ghijkl@x") is None
