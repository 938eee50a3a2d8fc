"""Agents, customers and cases through the service layer, on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from helpdesk.db.models import Attachment, AuditEvent, FieldChange, Message
from helpdesk.domain import CaseKind, CaseStatus, DisputeStage, Queue, Role
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.services import agents, cases, customers, policy, verification
from helpdesk.services.context import Desk


@pytest.fixture
def bob(desk: Desk) -> Desk:
    agents.add(desk, name="bob", role="agent")
    return desk.as_agent("bob")


def make_customer(desk: Desk, name: str = "Ana Lima", email: str = "ana@example.com") -> int:
    return customers.create(desk, name=name, emails=[email]).id


# --- agents --------------------------------------------------------------------------------------


def test_first_agent_on_an_empty_database_becomes_supervisor(desk: Desk) -> None:
    me = agents.whoami(desk)
    assert (me.name, me.role) == ("alice", Role.SUPERVISOR)


def test_unknown_agent_is_refused_once_the_desk_has_agents(desk: Desk) -> None:
    agents.whoami(desk)
    with pytest.raises(Forbidden, match="not a desk agent"):
        customers.find(desk.as_agent("mallory"), "x")


def test_only_supervisors_add_agents(desk: Desk, bob: Desk) -> None:
    with pytest.raises(Forbidden, match="supervisor"):
        agents.add(bob, name="carol")
    with pytest.raises(Conflict):
        agents.add(desk, name="bob")
    with pytest.raises(Invalid):
        agents.add(desk, name="bad name!")


def test_deactivated_agent_cannot_act(desk: Desk, bob: Desk) -> None:
    agents.update(desk, name="bob", active=False)
    with pytest.raises(Forbidden, match="deactivated"):
        cases.list_queue(bob, Queue.OPEN)
    with pytest.raises(Invalid, match="yourself"):
        agents.update(desk, name="alice", active=False)


# --- customers -----------------------------------------------------------------------------------


def test_create_customer_validates_each_field(desk: Desk) -> None:
    with pytest.raises(Invalid) as err:
        customers.create(desk, name="X", emails=["not-an-address"])
    assert err.value.field == "email"
    with pytest.raises(Invalid) as err:
        customers.create(desk, name="  \x00 ", emails=["a@example.com"])
    assert err.value.field == "name"
    with pytest.raises(Invalid) as err:
        customers.create(desk, name="X", emails=["a@example.com"], phone="call me")
    assert err.value.field == "phone"
    with pytest.raises(Invalid):
        customers.create(desk, name="X", emails=["a@example.com", "A@EXAMPLE.com"])


def test_email_validation_makes_no_network_call(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert customers.create(desk, name="Off Line", emails=["x@no-such-host-zz9q.com"]).id


def test_an_address_belongs_to_one_customer(desk: Desk) -> None:
    make_customer(desk)
    with pytest.raises(Conflict, match="already belongs"):
        customers.create(desk, name="Other", emails=["ANA@example.com"])


def test_control_characters_are_stripped_and_markup_kept_literally(desk: Desk) -> None:
    d = customers.create(desk, name="[b]Eve\x1b[31m\u0007", emails=["eve@example.com"])
    assert d.name == "[b]Eve [31m"


def test_update_keeps_field_history_with_old_and_new_values(desk: Desk, clock) -> None:  # type: ignore[no-untyped-def]
    cid = make_customer(desk)
    d = customers.get(desk, cid)
    d = customers.update(
        desk, customer_id=cid, expected_version=d.version, name="Ana Souza", company="Lima & Co"
    )
    assert (d.name, d.company) == ("Ana Souza", "Lima & Co")
    assert sorted((c.field, c.old_value, c.new_value) for c in d.changed) == [
        ("company", None, "Lima & Co"), ("name", "Ana Lima", "Ana Souza")]
    assert d.changes == d.changed and {c.agent_name for c in d.changes} == {"alice"}
    with desk.db.engine.connect() as conn:
        rows = conn.execute(sa.select(FieldChange.field)).scalars().all()
    assert sorted(rows) == ["company", "name"]
    again = customers.update(desk, customer_id=cid, name="Ana Souza")
    assert again.changed == () and len(again.changes) == 2


def test_stale_customer_update_is_a_conflict_not_an_overwrite(desk: Desk, bob: Desk) -> None:
    cid = make_customer(desk)
    seen_by_alice = customers.get(desk, cid)
    seen_by_bob = customers.get(bob, cid)
    customers.update(
        bob, customer_id=cid, expected_version=seen_by_bob.version, phone="+1 555 0100"
    )
    with pytest.raises(Conflict, match="changed by someone else"):
        customers.update(
            desk, customer_id=cid, expected_version=seen_by_alice.version, phone="+1 555 0199"
        )
    assert customers.get(desk, cid).phone == "+1 555 0100"


def test_concurrent_orm_write_is_caught_by_the_version_column(desk: Desk) -> None:
    """Even past the expected-version check, a racing writer cannot silently overwrite."""
    from sqlmodel import Session

    from helpdesk.db.models import Customer

    cid = make_customer(desk)
    engine = desk.db.engine
    with (
        Session(engine, expire_on_commit=False) as first,
        Session(engine, expire_on_commit=False) as second,
    ):
        a = first.get(Customer, cid)
        first.commit()  # both read version 1, then end their read transactions
        b = second.get(Customer, cid)
        second.commit()
        assert a and b
        a.phone = "+1 555 0001"
        first.commit()
        b.phone = "+1 555 0002"
        with pytest.raises(sa.orm.exc.StaleDataError):
            second.commit()
    assert customers.get(desk, cid).phone == "+1 555 0001"


def test_primary_email_management(desk: Desk) -> None:
    cid = make_customer(desk)
    d = customers.add_email(desk, customer_id=cid, address="ana.work@example.net", primary=True)
    assert d.primary_email == "ana.work@example.net"
    old = next(e for e in d.emails if e.address == "ana@example.com")
    d = customers.remove_email(desk, customer_id=cid, email_id=old.id)
    assert [e.address for e in d.emails] == ["ana.work@example.net"]
    with pytest.raises(Invalid, match="at least one"):
        customers.remove_email(desk, customer_id=cid, email_id=d.emails[0].id)


def test_profile_view_is_audited_without_personal_data(desk: Desk) -> None:
    cid = make_customer(desk, name="Privata Persona", email="privata@example.com")
    customers.get(desk, cid)
    with desk.db.engine.connect() as conn:
        events = conn.execute(sa.select(AuditEvent)).all()
    assert ("customer.view", cid) in {(e.action, e.object_id) for e in events}
    dump = repr([tuple(e) for e in events])
    assert "Privata" not in dump and "privata@" not in dump


def test_missing_customer_is_not_found(desk: Desk) -> None:
    with pytest.raises(NotFound):
        customers.get(desk, 999)


# --- cases ---------------------------------------------------------------------------------------


def test_case_deadline_follows_policy_and_records_policy_version(desk: Desk, clock) -> None:  # type: ignore[no-untyped-def]
    policy.add(desk, text="Part III. Access\nWe delete your data within 30 days.",
               effective_on=date(2015, 4, 17))
    cid = make_customer(desk)
    received = datetime(2026, 1, 31, 22, 59, tzinfo=UTC)  # 23:59 in Berlin
    d = cases.create(desk, kind=CaseKind.DELETION, customer_id=cid, received_at=received)
    assert d.case.due_date == date(2026, 3, 2)  # 31 Jan + 30 days, local calendar
    assert d.policy_version_label and d.due_rule == "policy"
    assert d.case.days_left == (date(2026, 3, 2) - date(2026, 3, 10)).days  # the pinned clock
    assert d.case.overdue


def test_dispute_starts_received_with_ninety_days(desk: Desk) -> None:
    d = cases.create(desk, kind="dispute", customer_id=make_customer(desk))
    assert d.case.dispute_stage is DisputeStage.RECEIVED
    assert d.case.days_left == 90


def test_closed_case_shows_no_countdown(desk: Desk) -> None:
    d = cases.create(desk, kind="question", customer_id=make_customer(desk))
    d = cases.set_status(desk, case_id=d.case.id, status="resolved")
    assert d.case.days_left is None and not d.case.overdue and d.closed_at
    d = cases.set_status(desk, case_id=d.case.id, status="open")
    assert d.case.days_left is not None and d.closed_at is None


def test_a_dispute_is_not_closed_by_status_alone(desk: Desk) -> None:
    d = cases.create(desk, kind="dispute", customer_id=make_customer(desk))
    with pytest.raises(Invalid, match="stage"):
        cases.set_status(desk, case_id=d.case.id, status=CaseStatus.CLOSED)


def test_queues_page_by_deadline_with_a_cursor(desk: Desk, clock) -> None:  # type: ignore[no-untyped-def]
    cid = make_customer(desk)
    created = []
    for i in range(7):
        received = clock.now - timedelta(days=10 * i)
        created.append(cases.create(desk, kind="access", customer_id=cid, received_at=received))
    cases.set_status(desk, case_id=created[0].case.id, status="closed")
    seen: list[int] = []
    cursor = None
    while True:
        page = cases.list_queue(desk, Queue.OPEN, cursor=cursor, limit=2)
        seen += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = [c.case.id for c in sorted(created[1:], key=lambda c: (c.case.due_at, c.case.id))]
    assert seen == expected
    overdue = {c.id for c in cases.list_queue(desk, Queue.OVERDUE).items}
    assert overdue == {c.case.id for c in created if c.case.overdue and c is not created[0]}
    everything = cases.list_queue(desk, Queue.ALL).items
    assert everything[0].id == created[0].case.id  # newest received first


def test_due_soon_and_mine_queues_and_banner(desk: Desk, bob: Desk, clock) -> None:  # type: ignore[no-untyped-def]
    cid = make_customer(desk)
    soon = cases.create(
        desk, kind="access", customer_id=cid, received_at=clock.now - timedelta(days=25)
    )  # 5 days left
    later = cases.create(desk, kind="access", customer_id=cid)  # 30 days left
    late = cases.create(
        desk, kind="access", customer_id=cid, received_at=clock.now - timedelta(days=40)
    )
    for c in (soon, later, late):
        cases.assign(bob, case_id=c.case.id, assignee="bob")
    assert [c.id for c in cases.list_queue(bob, Queue.DUE_SOON).items] == [soon.case.id]
    assert {c.id for c in cases.list_queue(bob, Queue.MINE).items} == {
        soon.case.id,
        later.case.id,
        late.case.id,
    }
    assert cases.list_queue(desk, Queue.MINE).items == ()
    counts = cases.my_counts(bob)
    assert (counts.mine_open, counts.mine_overdue, counts.mine_due_soon) == (3, 1, 1)


def test_assignment_rules(desk: Desk, bob: Desk) -> None:
    agents.add(desk, name="carol")
    c = cases.create(desk, kind="question", customer_id=make_customer(desk))
    d = cases.assign(bob, case_id=c.case.id, assignee="bob")  # take an unassigned case
    assert d.case.assignee_name == "bob"
    with pytest.raises(Forbidden, match="supervisor"):
        cases.assign(bob, case_id=c.case.id, assignee="carol")
    with pytest.raises(Forbidden):
        cases.assign(desk.as_agent("carol"), case_id=c.case.id, assignee="carol")
    with pytest.raises(Invalid, match="reason"):
        cases.assign(desk, case_id=c.case.id, assignee="carol")
    d = cases.assign(desk, case_id=c.case.id, assignee="carol", reason="bob is on leave")
    assert d.case.assignee_name == "carol"
    assert d.events[-1].note == "bob is on leave"


def test_note_on_a_case_reassigned_meanwhile_goes_in_beside_the_reassignment(
    desk: Desk, bob: Desk
) -> None:
    agents.add(desk, name="carol")
    c = cases.create(desk, kind="question", customer_id=make_customer(desk))
    opened = cases.assign(bob, case_id=c.case.id, assignee="bob")
    cases.assign(desk, case_id=c.case.id, assignee="carol", reason="rebalancing")
    d = cases.add_note(bob, case_id=c.case.id, body="my note")  # bob's copy is stale: no matter
    assert d.messages[-1].body == "my note"
    assert d.case.assignee_name == "carol" and d.case.version > opened.case.version + 1
    with pytest.raises(Conflict, match="changed by bob"):  # a decision on a stale copy is not
        cases.set_status(bob, case_id=c.case.id, status="open",
                         expected_version=opened.case.version)


def _opened(desk: Desk, case_id: int) -> tuple[cases.CaseDetail, int]:
    """The case as ``cases.get`` reads it, and how many statements that took."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(desk.db.engine, "before_cursor_execute", count)
    try:
        return cases.get(desk, case_id), len(seen)
    finally:
        sa.event.remove(desk.db.engine, "before_cursor_execute", count)


def test_a_request_that_needs_verification_opens_in_as_many_statements_as_a_question(
    desk: Desk, bob: Desk
) -> None:
    """Its verification (code sent, how, when and by whom verified) is read with the case."""
    customer = make_customer(desk)
    question = cases.create(desk, kind="question", customer_id=customer).case.id
    deletion = cases.create(desk, kind="deletion", customer_id=customer).case.id
    _, asked = _opened(desk, question)
    d, unverified = _opened(desk, deletion)
    assert d.verification is not None and not d.verification.verified
    verification.verify(bob, case_id=deletion, method="postal_letter")
    d, verified = _opened(desk, deletion)
    assert unverified == verified == asked
    assert d.verification is not None and d.verification.verified
    assert d.verification.verified_by == "bob" and d.verification.verified_at is not None
    assert d.verification.method is not None and d.verification.method.value == "postal_letter"


def test_opening_a_case_costs_the_same_statements_however_long_its_thread_and_history(
    desk: Desk, bob: Desk
) -> None:
    """Each agent opens cases all day, and the desk reads one again after every change: no
    statement per message, attachment, history entry or agent it names."""
    agents.add(desk, name="carol", display_name="Carol Chen")
    c = cases.create(desk, kind="question", customer_id=make_customer(desk))
    case_id = c.case.id
    cases.add_note(desk, case_id=case_id, body="first")
    _, few = _opened(desk, case_id)
    cases.assign(bob, case_id=case_id, assignee="bob")
    cases.assign(desk, case_id=case_id, assignee="carol", reason="bob is on leave")
    for i in range(5):
        cases.add_note(bob, case_id=case_id, body=f"note {i}")
    with desk.db.session(write=True) as s:
        with_files = s.exec(select(Message).where(Message.case_id == case_id,
                                                  Message.body == "note 3")).one()
        for name in ("b.pdf", "a.png"):
            s.add(Attachment(message_id=with_files.id, filename=name, content_type="x/y",
                             size=3, sha256="0" * 64, content=b"abc"))
        s.add(Attachment(message_id=with_files.id, filename="big.iso", content_type="x/y",
                         size=9, sha256="1" * 64, withheld="too large"))
    d, many = _opened(desk, case_id)
    assert many == few
    assert [m.body for m in d.messages] == ["first"] + [f"note {i}" for i in range(5)]
    assert [[(a.filename, a.kept, a.withheld) for a in m.attachments] for m in d.messages] == [
        [], [], [], [], [("b.pdf", True, None), ("a.png", True, None),
                         ("big.iso", False, "too large")], []]
    moves = [(e.from_shown, e.to_shown, e.note) for e in d.events if e.action == "assigned"]
    assert moves == [(None, "bob", None), ("bob", "Carol Chen", "bob is on leave")]
    assert (d.case.assignee_name, d.case.customer_name) == ("Carol Chen", "Ana Lima")


def test_case_for_unknown_customer_or_kind(desk: Desk) -> None:
    with pytest.raises(NotFound):
        cases.create(desk, kind="question", customer_id=12345)
    with pytest.raises(Invalid, match="kinds are"):
        cases.create(desk, kind="sale", customer_id=make_customer(desk))


def test_policy_version_in_force_is_the_latest_effective(desk: Desk) -> None:
    policy.add(desk, text="v1", effective_on=date(2015, 4, 17))
    policy.add(desk, text="v2", effective_on=date(2026, 3, 1), label="2026 amendment")
    with pytest.raises(Conflict):
        policy.add(desk, text="v1", effective_on=date(2020, 1, 1))
    d = cases.create(
        desk,
        kind="access",
        customer_id=make_customer(desk),
        received_at=datetime(2026, 2, 20, tzinfo=UTC),
    )
    assert d.policy_version_label == "Privacy policy effective 2015-04-17"
    d = cases.create(desk, kind="access", customer_id=make_customer(desk, email="b@example.com"))
    assert d.policy_version_label == "2026 amendment"


def test_a_note_bumps_the_version_even_within_the_same_instant(desk: Desk) -> None:
    c = cases.create(desk, kind="question", customer_id=make_customer(desk))
    first = cases.add_note(desk, case_id=c.case.id, body="one")
    assert first.case.version > c.case.version
    with pytest.raises(Conflict):
        cases.set_status(desk, case_id=c.case.id, status="open", expected_version=c.case.version)
    assert cases.add_note(desk, case_id=c.case.id, body="two").case.version > first.case.version


def test_an_added_address_bumps_the_customer_version(desk: Desk) -> None:
    cid = make_customer(desk)
    before = customers.get(desk, cid).version
    after = customers.add_email(desk, customer_id=cid, address="second@example.com").version
    assert after > before
