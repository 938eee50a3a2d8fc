"""The audit trail: tamper evidence, queries and exports, and no personal data in it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.cli import main
from helpdesk.db.models import AuditEvent
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.services import (
    access_export,
    agents,
    audit,
    audit_query,
    cases,
    consent,
    customers,
    disclosures,
    erasure,
    intake,
)
from helpdesk.services.audit_query import AuditFilter
from helpdesk.services.context import Desk
from tests.conftest import FakeClock


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep CLI runs away from the real user's configuration."""
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HELPDESK_DB_URL", raising=False)
    return tmp_path / "home"


def _busy(desk: Desk, clock: FakeClock) -> int:
    """A few events of every common kind; returns the id of a customer."""
    agents.add(desk, name="bob")
    c = customers.create(desk, name="Ann Example", emails=["ann@example.com"])
    clock.advance(minutes=1)
    customers.get(desk, c.id)
    d = cases.create(desk, kind="correction", customer_id=c.id, subject="fix my name")
    clock.advance(minutes=1)
    cases.get(desk.as_agent("bob"), d.case.id)
    return c.id


def _exec(desk: Desk, sql: str, **params: object) -> None:
    with desk.db.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _cli_verify(desk: Desk, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--db", desk.settings.db_url, "audit", "verify"])
    return code, capsys.readouterr().out


def test_untouched_chain_verifies(desk: Desk, clock: FakeClock, home: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    _busy(desk, clock)
    result = audit_query.verify(desk)
    assert result.ok and result.checked >= 6 and result.head
    code, out = _cli_verify(desk, capsys)
    assert code == 0 and "verified" in out


def test_edited_event_is_named(desk: Desk, clock: FakeClock, home: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _busy(desk, clock)
    _exec(desk, "UPDATE audit_event SET action = 'agent.add' WHERE id = 3")
    result = audit_query.verify(desk)
    assert (result.broken_at, result.reason) == (3, "event content does not match its hash")
    code, out = _cli_verify(desk, capsys)
    assert code == 1 and "BROKEN at event #3" in out


def test_edited_time_is_named(desk: Desk, clock: FakeClock) -> None:
    _busy(desk, clock)
    with desk.db.session(write=True) as s:
        ev = s.get(AuditEvent, 4)
        assert ev is not None
        ev.at = ev.at - timedelta(days=1)
    assert audit_query.verify(desk).broken_at == 4


def test_deleted_event_breaks_the_next_link(desk: Desk, clock: FakeClock, home: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _busy(desk, clock)
    _exec(desk, "DELETE FROM audit_event WHERE id = 3")
    result = audit_query.verify(desk)
    assert (result.broken_at, result.reason) == (4, "previous-hash link does not match")
    code, out = _cli_verify(desk, capsys)
    assert code == 1 and "#4" in out


def test_inserted_event_is_caught_even_when_correctly_hashed(desk: Desk, clock: FakeClock) -> None:
    _busy(desk, clock)
    with desk.db.engine.begin() as conn:
        prev = conn.execute(sa.text("SELECT hash FROM audit_event WHERE id = 2")).scalar_one()
        conn.execute(sa.text("UPDATE audit_event SET id = id + 1000 WHERE id > 2"))
    # A forger who knows the algorithm chains the new event onto event 2 correctly...
    forged_at = clock.now
    canonical = audit._canonical(forged_at, 1, "customer.view", "customer", 1, {})
    forged = audit.chain_hash(prev, canonical)
    with desk.db.session(write=True) as s:
        s.add(AuditEvent(id=3, at=forged_at, actor_id=1, action="customer.view",
                         object_type="customer", object_id=1, details={}, prev_hash=prev,
                         hash=forged))
    # ...but the event after it still points at event 2.
    result = audit_query.verify(desk)
    assert (result.broken_at, result.reason) == (1003, "previous-hash link does not match")


def test_reordered_events_are_caught(desk: Desk, clock: FakeClock, home: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _busy(desk, clock)
    with desk.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET id = -3 WHERE id = 3"))
        conn.execute(sa.text("UPDATE audit_event SET id = 3 WHERE id = 4"))
        conn.execute(sa.text("UPDATE audit_event SET id = 4 WHERE id = -3"))
    result = audit_query.verify(desk)
    assert result.broken_at == 3
    code, _ = _cli_verify(desk, capsys)
    assert code == 1


def test_cut_off_tail_is_caught_with_an_anchor(desk: Desk, clock: FakeClock, home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _busy(desk, clock)
    head = audit_query.verify(desk).head
    assert head is not None
    assert audit_query.verify(desk, anchor=head).ok
    _exec(desk, "DELETE FROM audit_event WHERE hash = :h", h=head)
    plain = audit_query.verify(desk)
    assert plain.ok  # a chain alone cannot see its end removed...
    anchored = audit_query.verify(desk, anchor=head)
    assert not anchored.ok and anchored.anchor_found is False  # ...the noted head can
    code = main(["--db", desk.settings.db_url, "audit", "verify", "--anchor", head])
    assert code == 1 and "missing" in capsys.readouterr().out


def test_query_filters_and_pages(desk: Desk, clock: FakeClock) -> None:
    cid = _busy(desk, clock)
    other = customers.create(desk, name="Other Person", emails=["other@example.com"])
    customers.get(desk, other.id)
    with desk.db.session(write=True) as s:  # as the importer records linking mail to someone
        audit.record(s, desk, None, "intake.link", "intake_item", 7, customer_id=cid)
        audit.record(s, desk, None, "intake.link", "intake_item", 8, customer_id=other.id)

    about = audit_query.query(desk, filter=AuditFilter(customer_id=cid))
    actions = [e.action for e in about.items]
    # the customer's record, their case and what names them, newest first; nobody else's
    assert actions == ["intake.link", "case.view", "case.create", "customer.view",
                       "customer.create"]
    assert about.items[0].object_id == 7
    assert about.items[1].actor_name == "bob"

    by_bob = audit_query.query(desk, filter=AuditFilter(agent="bob"))
    assert [e.action for e in by_bob.items] == ["case.view"]

    views = audit_query.query(desk, filter=AuditFilter(action="customer.view"))
    assert {e.object_id for e in views.items} == {cid, other.id}
    prefix = audit_query.query(desk, filter=AuditFilter(action="case."))
    assert {e.action for e in prefix.items} == {"case.view", "case.create"}

    window = audit_query.query(desk, filter=AuditFilter(since=clock.now - timedelta(seconds=30)))
    assert "agent.add" not in {e.action for e in window.items}

    first = audit_query.query(desk, limit=3)
    assert len(first.items) == 3 and first.next_cursor
    rest = audit_query.query(desk, cursor=first.next_cursor, limit=1000)
    ids = [e.id for e in first.items + rest.items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert rest.next_cursor is None


def test_query_refusals(desk: Desk, clock: FakeClock) -> None:
    _busy(desk, clock)
    with pytest.raises(Forbidden):
        audit_query.query(desk.as_agent("bob"))
    with pytest.raises(Forbidden):
        audit_query.export(desk.as_agent("bob"))
    with pytest.raises(NotFound):
        audit_query.query(desk, filter=AuditFilter(agent="nobody"))
    with pytest.raises(Invalid):
        audit_query.query(desk, cursor="'; DROP TABLE x")
    with pytest.raises(Invalid):
        audit_query.export(desk, fmt="xml")


def test_reading_the_trail_is_itself_recorded(desk: Desk, clock: FakeClock) -> None:
    _busy(desk, clock)
    audit_query.query(desk, filter=AuditFilter(agent="bob"))
    list(audit_query.export(desk, fmt="json"))
    mine = audit_query.query(desk, filter=AuditFilter(action="audit."))
    # newest first; the query being run is recorded after it has read the trail
    assert [e.action for e in mine.items] == ["audit.export", "audit.query"]
    assert mine.items[1].details["agent_filter"] == "bob"
    assert mine.items[0].details["format"] == "json"


def test_export_formats(desk: Desk, clock: FakeClock, home: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    cid = _busy(desk, clock)
    lines = [json.loads(x) for x in audit_query.export(
        desk, filter=AuditFilter(customer_id=cid), fmt="json")]
    assert [x["action"] for x in lines] == ["customer.create", "customer.view", "case.create",
                                            "case.view"]
    out = tmp_path / "audit.csv"
    url = desk.settings.db_url
    assert main(["--db", url, "audit", "export", "--customer", str(cid),
                 "--out", str(out)], agent="alice") == 0
    rows = out.read_text().splitlines()
    assert rows[0].startswith("id,at,actor_name,real_account,action") and len(rows) == 5
    assert main(["--db", url, "audit", "export", "--out", str(out)], agent="alice") == 5
    assert main(["--db", url, "audit", "export"], agent="bob") == 4
    capsys.readouterr()
    assert main(["--db", url, "audit", "list", "--agent", "bob",
                 "--json"], agent="alice") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in listed["items"]] == ["case.view"]
    assert main(["--db", url, "audit", "list", "--from", "yesterday"], agent="alice") == 6


PII = ["Zelda Quixote", "zelda.quixote@example.org", "+44 20 7946 0999", "Quixote Holdings",
       "17 Windmill Lane", "secret subject Zelda", "note about Zelda's bank"]


def test_busy_session_leaves_no_personal_data_in_the_trail(desk: Desk, clock: FakeClock,
                                                           tmp_path: Path) -> None:
    agents.add(desk, name="bob")
    bob = desk.as_agent("bob")
    c = customers.create(desk, name=PII[0], emails=[PII[1]], phone=PII[2], company=PII[3],
                         billing_address=PII[4])
    customers.find(desk, "Zelda")
    customers.get(bob, c.id)
    customers.add_email(desk, customer_id=c.id, address="zq2@example.org")
    detail = customers.get(desk, c.id)
    customers.update(desk, customer_id=c.id, expected_version=detail.version,
                     name="Zelda Q. Quixote", shipping_address=PII[4])
    d = cases.create(desk, kind="deletion", customer_id=c.id, subject=PII[5], note=PII[6])
    cases.add_note(bob, case_id=d.case.id, body=PII[6])
    cases.get(bob, d.case.id)
    cases.set_status(desk, case_id=d.case.id, status="open", note=PII[6])
    mail = tmp_path / "letter.eml"
    mail.write_text(f"From: {PII[0]} <{PII[1]}>\nTo: info@example.com\nSubject: {PII[5]}\n"
                    "Message-ID: <pii-1@example.org>\nDate: Tue, 10 Mar 2026 09:00:00 +0000\n"
                    f"\n{PII[6]}\n")
    intake.import_paths(desk, paths=[mail])
    consent.opt_out(desk, customer_id=c.id)
    disclosures.add(desk, customer_id=c.id, recipient=PII[3], recipient_kind="contractor",
                    purpose=f"shipping to {PII[4]}", data_categories=["address"],
                    disclosed_on=date(2026, 3, 1), legal_basis="contract")
    access_export.export(desk, customer_id=c.id)
    erasure.erase(desk, customer_id=c.id, case_id=d.case.id)
    audit_query.query(desk, filter=AuditFilter(customer_id=c.id))
    with desk.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM audit_event")).all()
    actions = {r.action for r in rows}
    assert {"customer.view", "customer.update", "case.view", "case.note", "erasure.execute",
            "customer.export", "intake.import"} <= actions, sorted(actions)
    assert any(a.startswith("consent.") for a in actions)
    assert any(a.startswith("disclosure.") for a in actions)
    text = "\n".join(repr(tuple(r)) for r in rows).casefold()
    for needle in [*PII, "Zelda Q. Quixote", "zq2@example.org", "zelda", "quixote", "windmill"]:
        assert needle.casefold() not in text, needle
