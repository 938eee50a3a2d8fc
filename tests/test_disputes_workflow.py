"""Disputes: opening one, stage transitions, resolution letters, the 90-day clock's warnings."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from helpdesk.db.models import CaseEvent, Message
from helpdesk.domain import CaseStatus, DisputeStage, MessageDirection, Queue
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import agents, cases, customers, disputes
from helpdesk.services.context import Desk


@pytest.fixture
def handled(desk: Desk) -> int:
    """A deletion case the customer is about to dispute."""
    cust = customers.create(desk, name="Zoë O'Brien", emails=["zoe@example.org"])
    return cases.create(desk, kind="deletion", customer_id=cust.id).case.id


def _message(desk: Desk, case_id: int, direction: MessageDirection, at: datetime) -> int:
    with desk.db.session(write=True) as s:
        m = Message(case_id=case_id, direction=direction, at=at, body="x")
        s.add(m)
        s.flush()
        return m.id or 0


def _events(desk: Desk, case_id: int, action: str) -> list[CaseEvent]:
    with desk.db.session() as s:
        return list(s.exec(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == action).order_by(CaseEvent.id)))


def test_open_from_a_case_links_back_and_starts_received(desk: Desk, handled: int) -> None:
    d = disputes.open_dispute(desk, case_id=handled, note="customer says we ignored them")
    original = cases.get(desk, handled)
    assert d.case.dispute_stage is DisputeStage.RECEIVED
    assert d.related_case_id == handled
    assert d.case.customer_id == original.case.customer_id
    assert d.case.received_at == desk.now()
    assert d.case.days_left == 90
    assert [m.direction for m in d.messages] == [MessageDirection.NOTE]
    # the disputed case's history points at the dispute, without bumping its version
    assert any(e.action == "disputed" and e.to_value == f"case #{d.case.id}"
               for e in original.events)
    assert original.case.version == 1


def test_open_from_a_message_starts_the_clock_at_its_receipt(
    desk: Desk, handled: int, clock
) -> None:  # type: ignore[no-untyped-def]
    written = clock.now
    inbound = _message(desk, handled, MessageDirection.INBOUND, written)
    clock.advance(days=3)
    d = disputes.open_dispute(desk, message_id=inbound)
    assert d.case.received_at == written
    assert d.case.days_left == 87
    outbound = _message(desk, handled, MessageDirection.OUTBOUND, written)
    with pytest.raises(Invalid, match="not from the customer"):
        disputes.open_dispute(desk, message_id=outbound)
    with pytest.raises(NotFound):
        disputes.open_dispute(desk, message_id=9999)
    with pytest.raises(Invalid, match="itself a dispute"):
        disputes.open_dispute(desk, case_id=d.case.id)
    with pytest.raises(Invalid, match="either"):
        disputes.open_dispute(desk)


def test_full_path_records_each_stage_and_resolution_closes(desk: Desk, handled: int) -> None:
    d = disputes.open_dispute(desk, case_id=handled)
    cid = d.case.id
    for stage in ("acknowledged", "investigating", "resolution_proposed"):
        d = disputes.advance(desk, case_id=cid, to=stage, note=f"now {stage}",
                             expected_version=d.case.version)
        assert d.case.status is CaseStatus.OPEN
        assert d.closed_at is None
    letter = _message(desk, cid, MessageDirection.OUTBOUND, desk.now())
    d = disputes.advance(desk, case_id=cid, to="resolved", outcome="apology and erasure redone",
                         letter_message_id=letter, expected_version=d.case.version)
    assert d.case.dispute_stage is DisputeStage.RESOLVED
    assert d.case.status is CaseStatus.RESOLVED
    assert d.closed_at == desk.now()
    assert d.outcome == "apology and erasure redone"
    assert d.case.days_left is None
    stages = _events(desk, cid, "stage")
    assert [(e.from_value, e.to_value, e.note) for e in stages] == [
        ("received", "acknowledged", "now acknowledged"),
        ("acknowledged", "investigating", "now investigating"),
        ("investigating", "resolution_proposed", "now resolution_proposed"),
        ("resolution_proposed", "resolved", None),
    ]
    assert all(e.actor_id is not None and e.at == desk.now() for e in stages)
    assert [e.to_value for e in _events(desk, cid, "resolution_letter")] == [f"message #{letter}"]


def test_illegal_transitions_are_refused_naming_the_next_stages(desk: Desk, handled: int) -> None:
    cid = disputes.open_dispute(desk, case_id=handled).case.id
    with pytest.raises(Invalid, match="from received to resolved; next stages: acknowledged, "
                                      "withdrawn"):
        disputes.advance(desk, case_id=cid, to="resolved", outcome="x", letter_reference="r")
    with pytest.raises(Invalid, match="unknown dispute stage 'closed'"):
        disputes.advance(desk, case_id=cid, to="closed")
    with pytest.raises(Invalid, match="not a dispute"):
        disputes.advance(desk, case_id=handled, to="acknowledged")
    assert cases.get(desk, cid).case.dispute_stage is DisputeStage.RECEIVED
    d = disputes.advance(desk, case_id=cid, to="withdrawn", note="customer is satisfied")
    assert d.case.status is CaseStatus.CLOSED and d.closed_at is not None
    with pytest.raises(Invalid, match="next stages: none"):
        disputes.advance(desk, case_id=cid, to="investigating")


def test_a_rejected_proposal_goes_back_to_investigating(desk: Desk, handled: int) -> None:
    cid = disputes.open_dispute(desk, case_id=handled).case.id
    for stage in ("acknowledged", "investigating", "resolution_proposed", "investigating"):
        d = disputes.advance(desk, case_id=cid, to=stage)
    assert d.case.dispute_stage is DisputeStage.INVESTIGATING
    assert disputes.next_stages("resolution_proposed") == (
        DisputeStage.RESOLVED, DisputeStage.INVESTIGATING, DisputeStage.WITHDRAWN)


def test_resolving_needs_outcome_and_letter(desk: Desk, handled: int) -> None:
    cid = disputes.open_dispute(desk, case_id=handled).case.id
    for stage in ("acknowledged", "investigating", "resolution_proposed"):
        disputes.advance(desk, case_id=cid, to=stage)
    with pytest.raises(Invalid, match="outcome"):
        disputes.advance(desk, case_id=cid, to="resolved", letter_reference="post 12")
    with pytest.raises(Invalid, match="letter sent"):
        disputes.advance(desk, case_id=cid, to="resolved", outcome="upheld")
    inbound = _message(desk, cid, MessageDirection.INBOUND, desk.now())
    with pytest.raises(Invalid, match="not sent to the customer"):
        disputes.advance(desk, case_id=cid, to="resolved", outcome="upheld",
                         letter_message_id=inbound)
    elsewhere = _message(desk, handled, MessageDirection.OUTBOUND, desk.now())
    with pytest.raises(Invalid, match="is not on dispute"):
        disputes.advance(desk, case_id=cid, to="resolved", outcome="upheld",
                         letter_message_id=elsewhere)
    with pytest.raises(Invalid, match="too long"):
        disputes.advance(desk, case_id=cid, to="resolved", outcome="upheld",
                         letter_reference="x" * 201)
    assert cases.get(desk, cid).case.status is CaseStatus.OPEN  # nothing half-done
    d = disputes.advance(desk, case_id=cid, to="resolved", outcome="upheld",
                         letter_reference="letter by post, ref 2026/17")
    assert d.case.status is CaseStatus.RESOLVED
    assert [e.to_value for e in _events(desk, cid, "resolution_letter")] == [
        "ref: letter by post, ref 2026/17"]


def test_stale_advance_is_a_conflict(desk: Desk, handled: int) -> None:
    d = disputes.open_dispute(desk, case_id=handled)
    disputes.advance(desk, case_id=d.case.id, to="acknowledged")
    with pytest.raises(Conflict, match="stage: received -> acknowledged"):
        disputes.advance(desk, case_id=d.case.id, to="withdrawn", expected_version=d.case.version)


# --- the 90-day clock ----------------------------------------------------------------------------

def _warning(desk: Desk, case_id: int) -> tuple[int | None, bool]:
    c = cases.get(desk, case_id).case
    return c.warning, c.overdue


def test_warnings_at_60_75_85_and_breach_after_90(desk: Desk, handled: int, clock) -> None:  # type: ignore[no-untyped-def]
    cid = disputes.open_dispute(desk, case_id=handled).case.id
    expected = {0: (None, False), 59: (None, False), 60: (60, False), 74: (60, False),
                75: (75, False), 85: (85, False), 90: (85, False), 91: (85, True)}
    start = clock.now
    for day, want in expected.items():
        clock.now = start + timedelta(days=day)
        assert _warning(desk, cid) == want, day


def test_warning_days_are_configurable_and_closed_disputes_show_none(
    desk: Desk, handled: int, clock
) -> None:  # type: ignore[no-untyped-def]
    custom = Desk(db=desk.db, settings=replace(desk.settings, dispute_warning_days=(30,)),
                  actor_name="alice", clock=clock)
    cid = disputes.open_dispute(desk, case_id=handled).case.id
    clock.advance(days=45)
    assert cases.get(custom, cid).case.warning == 30
    assert cases.get(desk, cid).case.warning is None
    disputes.advance(desk, case_id=cid, to="withdrawn")
    assert cases.get(custom, cid).case.warning is None


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # 2026-03-10 23:30 UTC is already 11 March in Berlin, still 10 March in Los Angeles.
        ("Europe/Berlin", datetime(2026, 5, 9, 21, 59, tzinfo=UTC),
         datetime(2026, 5, 9, 22, 0, tzinfo=UTC)),  # local midnight, CEST (+2) after DST
        ("America/Los_Angeles", datetime(2026, 5, 9, 6, 59, tzinfo=UTC),
         datetime(2026, 5, 9, 7, 0, tzinfo=UTC)),  # local midnight, PDT (-7) after DST
        ("UTC", datetime(2026, 5, 8, 23, 59, tzinfo=UTC), datetime(2026, 5, 9, 0, 0, tzinfo=UTC)),
    ],
)
def test_warning_day_follows_the_desk_time_zone(
    desk: Desk, handled: int, clock, zone: str, before: datetime, after: datetime
) -> None:  # type: ignore[no-untyped-def]
    local = Desk(db=desk.db, settings=replace(desk.settings, timezone=zone),
                 actor_name="alice", clock=clock)
    clock.now = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    cid = disputes.open_dispute(local, case_id=handled).case.id
    clock.now = before
    assert cases.get(local, cid).case.warning is None
    clock.now = after
    assert cases.get(local, cid).case.warning == 60


def test_warnings_reach_the_queue_and_the_banner(desk: Desk, handled: int, clock) -> None:  # type: ignore[no-untyped-def]
    agents.add(desk, name="bob")
    bob = desk.as_agent("bob")
    old = disputes.open_dispute(desk, case_id=handled).case
    clock.advance(days=10)
    fresh = disputes.open_dispute(desk, case_id=handled).case
    cases.assign(desk, case_id=old.id, assignee="bob", reason="cover")
    cases.assign(desk, case_id=fresh.id, assignee="bob", reason="cover")
    clock.advance(days=49)  # 59 and 49 days in
    assert cases.my_counts(bob).mine_dispute_warnings == 0
    clock.advance(days=1)
    assert cases.my_counts(bob).mine_dispute_warnings == 1
    clock.advance(days=10)  # 70 and 60 days in
    page = cases.list_queue(bob, Queue.DISPUTES)
    assert {c.id: c.warning for c in page.items} == {old.id: 60, fresh.id: 60}
    assert cases.my_counts(bob).mine_dispute_warnings == 2
    assert cases.my_counts(desk).mine_dispute_warnings == 0
