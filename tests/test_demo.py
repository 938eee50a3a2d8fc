"""Demo data: deterministic, complete (every kind, status and stage), consistent, searchable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpdesk import clock, demo
from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.db.search import PG_SEARCH_COLUMNS, SQLITE_INDEX
from helpdesk.db.types import UTCDateTime
from helpdesk.domain import CLOSED_STATUSES, CaseKind, CaseStatus, DisputeStage, RecipientKind
from helpdesk.errors import Conflict, Forbidden, Invalid
from helpdesk.services import agents, customers, policy
from helpdesk.services.context import Desk
from tests.conftest import FakeClock

N = 400


#: A version that takes effect inside the demo's range, with periods unlike the usual ones, so
#: the deadlines show whether the generator takes them from the version in force at receipt.
SHORT_POLICY = ("Part III. Access to Your Information\nWrite to us to correct or delete your "
                "data. We will do it within 21 days.\nPart VI. Contact\nWe resolve disputes "
                "within 60 days.\n")


@pytest.fixture
def demo_desk(desk: Desk) -> Desk:
    policy.add(desk, text=SHORT_POLICY, effective_on=date(2026, 1, 1))
    counts = demo.generate(desk, customers=N, seed=7)
    assert counts["customer"] == N
    return desk


def rows(desk: Desk, sql: str, **params: Any) -> list[Any]:
    with desk.db.engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def test_every_kind_in_every_status_and_every_dispute_stage(demo_desk: Desk) -> None:
    found = {(k, s) for k, s in rows(demo_desk, "SELECT kind, status FROM support_case")}
    assert found == {(k.value, s.value) for k in CaseKind for s in CaseStatus}
    stages = {s for (s,) in rows(demo_desk, "SELECT dispute_stage FROM support_case "
                                            "WHERE kind = 'dispute'")}
    assert stages == {s.value for s in DisputeStage}
    assert not rows(demo_desk, "SELECT id FROM support_case WHERE kind <> 'dispute' "
                               "AND dispute_stage IS NOT NULL")


def test_closed_invariants_and_deadlines(demo_desk: Desk) -> None:
    cases = rows(demo_desk, "SELECT id, kind, status, dispute_stage, received_at, due_at, "
                            "policy_due_at, closed_at, assignee_id, rule_due_at FROM support_case")
    assert len(cases) >= len(demo.COVERAGE)
    now = demo_desk.now()
    under_short = 0
    for cid, kind, status, stage, received, due, policy_due, closed, assignee, rule_due in cases:
        received, due = _utc(received), _utc(due)
        is_closed = CaseStatus(status) in CLOSED_STATUSES
        assert (closed is not None) == is_closed, cid
        if is_closed:
            assert received < _utc(closed) < now, cid
        assert received < now, cid
        if kind == CaseKind.DISPUTE and is_closed:
            assert stage in (DisputeStage.RESOLVED, DisputeStage.WITHDRAWN), cid
        if kind == CaseKind.DISPUTE and not is_closed:
            assert stage not in (DisputeStage.RESOLVED, DisputeStage.WITHDRAWN), cid
        with demo_desk.db.session() as s:
            expected, _ = policy.deadline_for(s, demo_desk, CaseKind(kind), received)
        assert due == expected.effective and due == _utc(rule_due), cid
        under_short += expected.rule == "policy" and expected.days in (21, 60)
        assert (_utc(policy_due) if policy_due else None) == expected.policy, cid
        assert (assignee is None) == (status == CaseStatus.NEW), cid
    assert under_short > 10  # the version's window holds cases on its own clocks


def test_queues_have_overdue_due_soon_and_fresh_cases(demo_desk: Desk) -> None:
    now = demo_desk.now()
    tz = demo_desk.settings.tz
    left = [clock.days_left(_utc(due), now, tz) for (due,) in rows(
        demo_desk, "SELECT due_at FROM support_case WHERE closed_at IS NULL")]
    assert any(d < 0 for d in left)
    assert any(0 <= d <= 7 for d in left)
    assert any(d > 7 for d in left)
    ages = [(now - _utc(r)).days for (r,) in rows(demo_desk,
                                                  "SELECT received_at FROM support_case")]
    assert min(ages) <= 10 and 150 <= max(ages) <= demo.CASE_SPREAD_DAYS


def test_customers_emails_and_threads_are_consistent(demo_desk: Desk) -> None:
    primaries = Counter(c for (c,) in rows(
        demo_desk, "SELECT customer_id FROM customer_email WHERE is_primary = :yes", yes=True))
    assert len(primaries) == N and set(primaries.values()) == {1}
    per_customer = Counter(c for (c,) in rows(demo_desk,
                                              "SELECT customer_id FROM customer_email"))
    assert set(per_customer.values()) == {1, 2, 3}
    names = [n for (n,) in rows(demo_desk, "SELECT name FROM customer")]
    assert any("'" in n for n in names) and any("-" in n for n in names)
    assert any(not n.isascii() for n in names)
    assert rows(demo_desk, "SELECT count(*) FROM customer WHERE under_13 = :yes",
                yes=True)[0][0] >= 1
    # Every case opens with an inbound mail from its customer's primary address.
    bad = rows(demo_desk, """
        SELECT c.id FROM support_case c
        WHERE NOT EXISTS (
            SELECT 1 FROM message m JOIN customer_email e ON e.address = m.from_address
            WHERE m.case_id = c.id AND m.direction = 'inbound' AND m.message_id IS NOT NULL
              AND e.customer_id = c.customer_id AND e.is_primary = :yes AND m.at = c.received_at)
    """, yes=True)
    assert bad == []
    # Replies thread onto the message they answer.
    replies = rows(demo_desk, """
        SELECT r.in_reply_to, m.message_id FROM message r
        JOIN message m ON m.case_id = r.case_id AND m.direction = 'inbound'
        WHERE r.direction = 'outbound' AND m.id = (
            SELECT min(id) FROM message WHERE case_id = r.case_id)""")
    assert replies and all(a == b for a, b in replies)
    assert not rows(demo_desk, """
        SELECT c.id FROM support_case c JOIN customer u ON u.id = c.customer_id
        WHERE u.created_at > c.received_at""")  # nobody writes before they are a customer
    directions = {d for (d,) in rows(demo_desk, "SELECT direction FROM message")}
    assert directions == {"inbound", "outbound", "note"}
    created = rows(demo_desk, "SELECT count(*) FROM case_event WHERE action = 'created'")
    assert created[0][0] == rows(demo_desk, "SELECT count(*) FROM support_case")[0][0]


def test_consent_and_disclosures(demo_desk: Desk) -> None:
    opted_out = {c for (c,) in rows(demo_desk, "SELECT customer_id FROM consent_event "
                                               "WHERE purpose = 'marketing' "
                                               "AND action = 'opt_out'")}
    flagged = {c for (c,) in rows(demo_desk, "SELECT id FROM customer "
                                             "WHERE marketing_opted_out = :yes", yes=True)}
    assert opted_out and opted_out == flagged
    kinds = {k for (k,) in rows(demo_desk, "SELECT recipient_kind FROM disclosure")}
    assert kinds == {k.value for k in RecipientKind}
    assert "sale" not in {p.lower() for (p,) in rows(demo_desk,
                                                     "SELECT purpose FROM disclosure")}


def test_one_audit_event_and_the_acting_agent_stays_usable(demo_desk: Desk) -> None:
    actions = [a for (a,) in rows(demo_desk, "SELECT action FROM audit_event")]
    assert actions.count("demo.generate") == 1
    assert not [a for a in actions if a.startswith(("customer.", "case."))]
    me = agents.whoami(demo_desk)
    assert me.name == "alice" and me.role == "supervisor"
    team = {a.name: a for a in agents.list_agents(demo_desk)}
    assert team["demo_priya"].role == "supervisor"
    assert sum(a.role == "agent" and a.active for a in team.values()) >= 4


def test_search_finds_generated_customers(demo_desk: Desk) -> None:
    cid, name, address = rows(demo_desk, """
        SELECT c.id, c.name, e.address FROM customer c JOIN customer_email e
        ON e.customer_id = c.id AND e.is_primary = :yes ORDER BY c.id DESC LIMIT 1""",
                              yes=True)[0]
    assert cid in {h.id for h in customers.find(demo_desk, address, limit=500)}
    local = address.split("@")[0]
    assert cid in {h.id for h in customers.find(demo_desk, local[-6:], limit=500)}
    word = name.split()[-1]
    assert cid in {h.id for h in customers.find(demo_desk, word, limit=N)}


def test_the_index_holds_exactly_what_its_source_view_gives(demo_desk: Desk) -> None:
    """PostgreSQL's load writes the search rows itself (folded in Python, not by the view):
    they must be the rows the view, and so the triggers, would have written."""
    if demo_desk.db.backend == "postgresql":
        index = f"SELECT {PG_SEARCH_COLUMNS} FROM customer_search"
        source = f"SELECT {PG_SEARCH_COLUMNS} FROM customer_search_source"
    else:
        columns = ", ".join(SQLITE_INDEX[0][1])
        index = f"SELECT rowid, {columns} FROM customer_fts"
        source = f"SELECT id, {columns} FROM customer_search_source"
    assert rows(demo_desk, f"SELECT count(*) FROM ({index}) i")[0][0] == N
    if demo_desk.db.backend == "postgresql":  # its foreign key, set aside for the load, is back
        assert rows(demo_desk, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE "
                    "conrelid = 'customer_search'::regclass AND contype = 'f'") == [
            ("FOREIGN KEY (customer_id) REFERENCES customer(id) ON DELETE CASCADE",)]
    assert rows(demo_desk, f"{index} EXCEPT {source}") == []
    assert rows(demo_desk, f"{source} EXCEPT {index}") == []


def test_writes_after_the_load_keep_the_index_and_ids_working(demo_desk: Desk) -> None:
    """Triggers are back after the bulk load and id sequences continue past the loaded rows."""
    made = customers.create(demo_desk, name="Zéphyrine Quist-Ó'Dálaigh",
                            emails=["zephyrine@example.org"])
    assert made.id == N + 1
    assert [h.id for h in customers.find(demo_desk, "Quist-Ó")] == [made.id]
    customers.update(demo_desk, customer_id=made.id, name="Zéphyrine Moreau")
    assert customers.find(demo_desk, "Quist") == []


def test_refuses_a_database_with_customers(demo_desk: Desk) -> None:
    with pytest.raises(Conflict, match="already has customers"):
        demo.generate(demo_desk, customers=10)


def test_refuses_after_a_single_customer_and_needs_a_supervisor(desk: Desk) -> None:
    agents.add(desk, name="bob")
    with pytest.raises(Forbidden):
        demo.generate(desk.as_agent("bob"), customers=10)
    customers.create(desk, name="Ann Example", emails=["ann@example.com"])
    with pytest.raises(Conflict):
        demo.generate(desk, customers=10)


def test_customers_are_bounded_on_the_command_line_and_in_the_service(
    desk: Desk, cli: Any
) -> None:
    for wrong in ("0", "-5", str(demo.MAX_CUSTOMERS + 1), "4000000000"):
        code, _, err = cli("demo", "--customers", wrong)
        assert code == 2 and "--customers" in err, wrong
    assert "from 1 to 10,000,000" in cli("demo", "--customers", "10000001")[2]
    for wrong in (0, demo.MAX_CUSTOMERS + 1):
        with pytest.raises(Invalid, match="1 to 10,000,000"):
            demo.generate(desk, customers=wrong)
    assert rows(desk, "SELECT count(*) FROM customer")[0][0] == 0
    code, out, _ = cli("demo", "--customers", "3", "--json")
    assert code == 0 and '"customer": 3' in out


def test_a_failed_load_leaves_nothing_behind(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(plan: demo.Plan, seed: int) -> Iterator[demo.Batch]:
        yield from real(plan, seed)
        raise RuntimeError("disk on fire")

    real = demo.batches
    monkeypatch.setattr(demo, "batches", broken)
    with pytest.raises(RuntimeError):
        demo.generate(desk, customers=50)
    assert rows(desk, "SELECT count(*) FROM customer")[0][0] == 0
    made = customers.create(desk, name="Ola Nordmann", emails=["ola@example.no"])
    assert [h.id for h in customers.find(desk, "Nordmann")] == [made.id]  # triggers restored


# --- determinism (the generator itself, and two SQLite files) ------------------------------------

def _dump(path: Path, clock_: FakeClock, seed: int) -> dict[str, list[Any]]:
    db = open_database(f"sqlite:///{path}")
    settings = Settings(db_url=f"sqlite:///{path}", timezone="Europe/Berlin",
                        key_file=path.with_suffix(".key"))
    try:
        demo.generate(Desk(db=db, settings=settings, actor_name="alice", clock=clock_),
                      customers=120, seed=seed)
        with db.engine.connect() as conn:
            return {t: [tuple(r) for r in conn.exec_driver_sql(f'SELECT * FROM "{t}" ORDER BY id')]
                    for t in demo.TABLES}
    finally:
        db.dispose()


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path, clock: FakeClock) -> None:
    one = _dump(tmp_path / "one.sqlite3", clock, seed=3)
    clock.advance(hours=5)  # later the same day: the data does not move
    two = _dump(tmp_path / "two.sqlite3", clock, seed=3)
    other = _dump(tmp_path / "other.sqlite3", clock, seed=4)
    assert one == two
    assert one["customer"] != other["customer"]
    assert one["support_case"] != other["support_case"]


def _utc(value: Any) -> Any:
    """Instants read with plain SQL: naive UTC text on SQLite, aware on PostgreSQL."""
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]
