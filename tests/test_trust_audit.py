"""The audit trail: tamper evidence, queries and exports, and no personal data in it."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from helpdesk.cli import main
from helpdesk.db.models import AuditEvent
from helpdesk.errors import CHECK_FAILED, Forbidden, Invalid, NotFound
from helpdesk.services import (
    access_export,
    agents,
    audit,
    audit_query,
    cases,
    changes,
    consent,
    customers,
    disclosures,
    erasure,
    intake,
    keys,
)
from helpdesk.services.audit_query import AuditFilter
from helpdesk.services.context import Desk
from tests.conftest import FakeClock, is_postgres, verified_request


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
    assert code == CHECK_FAILED and "BROKEN at event #3" in out


def test_every_stored_column_is_covered(desk: Desk, clock: FakeClock) -> None:
    """The real account the database recorded (identity) is part of the hash like the rest."""
    _busy(desk, clock)
    with desk.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT real_account FROM audit_event WHERE id = 3")
                            ).scalar_one()
    _exec(desk, "UPDATE audit_event SET real_account = 'mallory' WHERE id = 3")
    assert audit_query.verify(desk).broken_at == 3


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
    assert (result.broken_at, result.position) == (4, 3) and "missing" in (result.reason or "")
    code, out = _cli_verify(desk, capsys)
    assert code == CHECK_FAILED and "#4" in out


def test_inserted_event_is_caught_even_when_correctly_linked(desk: Desk, clock: FakeClock) -> None:
    _busy(desk, clock)
    with desk.db.engine.begin() as conn:
        prev = conn.execute(sa.text("SELECT hash FROM audit_event WHERE seq = 2")).scalar_one()
        conn.execute(sa.text("UPDATE audit_event SET id = id + 1000, seq = seq + 1000 "
                             "WHERE seq > 2"))
    # A forger links a new event onto event 2 with the project's function and a key of theirs
    forged = AuditEvent(id=3, seq=3, at=clock.now, actor_id=1, action="customer.view",
                        object_type="customer", object_id=1, details={}, prev_hash=prev)
    forged.hash = audit.chain_hash(secrets.token_bytes(32), forged)
    with desk.db.session(write=True) as s:
        s.add(forged)
    result = audit_query.verify(desk)
    assert (result.broken_at, result.reason) == (3, "event content does not match its hash")


def test_reordered_events_are_caught(desk: Desk, clock: FakeClock, home: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _busy(desk, clock)
    with desk.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET seq = -3 WHERE seq = 3"))
        conn.execute(sa.text("UPDATE audit_event SET seq = 3 WHERE seq = 4"))
        conn.execute(sa.text("UPDATE audit_event SET seq = 4 WHERE seq = -3"))
    result = audit_query.verify(desk)
    assert result.position == 3 and not result.ok
    code, _ = _cli_verify(desk, capsys)
    assert code == CHECK_FAILED


def test_cut_off_tail_is_caught_with_an_anchor(desk: Desk, clock: FakeClock, home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _busy(desk, clock)
    anchor = audit_query.anchor(desk)
    assert audit_query.verify(desk, anchors=[anchor.text]).ok
    last_kept = anchor.position - 3
    _exec(desk, "DELETE FROM audit_event WHERE seq > :n", n=last_kept)
    plain = audit_query.verify(desk)
    assert plain.ok  # a chain alone cannot see its end removed...
    anchored = audit_query.verify(desk, anchors=[anchor.text])
    assert not anchored.ok and anchored.position == last_kept + 1  # ...the noted anchor can
    assert "cut" in (anchored.reason or "")
    code = main(["--db", desk.settings.db_url, "audit", "verify", "--anchor", anchor.text])
    out = capsys.readouterr().out
    assert code == CHECK_FAILED and f"position {last_kept + 1}" in out and "cut" in out


def _rewrite_from(desk: Desk, seq: int, rehash: Callable[[AuditEvent], str]) -> None:
    """What someone with write access to the database does to hide an edit: recompute every
    hash from the edited event on, so that each link points at its (new) predecessor."""
    with desk.db.session(write=True) as s:
        rows = s.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
        prev = audit.GENESIS
        for ev in rows:
            if ev.seq >= seq:
                ev.prev_hash = prev
                ev.hash = rehash(ev)
                s.add(ev)
                s.flush()
            prev = ev.hash


def _legacy(ev: AuditEvent) -> str:
    """The chain function of earlier versions: SHA-256 over the previous hash and the content,
    no key (written out here as the old code had it)."""
    canonical = json.dumps(
        [ev.at.isoformat(timespec="microseconds"), ev.actor_id, ev.action, ev.object_type,
         ev.object_id, ev.details], sort_keys=True, separators=(",", ":"), ensure_ascii=True,
        default=str)
    return hashlib.sha256((ev.prev_hash + canonical).encode()).hexdigest()


@pytest.mark.parametrize("how", ["unkeyed", "own key"])
def test_a_recomputed_chain_fails_and_the_anchor_names_the_first_changed_event(
    desk: Desk, clock: FakeClock, home: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    _busy(desk, clock)
    anchor = audit_query.anchor(desk)
    customers.create(desk, name="Later Person", emails=["later@example.com"])
    _exec(desk, "UPDATE audit_event SET action = 'agent.add', object_id = 99 WHERE seq = 4")
    forger_key = secrets.token_bytes(32)
    rehash = _legacy if how == "unkeyed" else (lambda ev: audit.chain_hash(forger_key, ev))
    _rewrite_from(desk, 4, rehash)
    edited = _id_at(desk, 4)
    result = audit_query.verify(desk)
    assert not result.ok and (result.broken_at, result.position) == (edited, 4)
    anchored = audit_query.verify(desk, anchors=[anchor.text])
    assert (anchored.broken_at, anchored.position) == (edited, 4)
    code = main(["--db", desk.settings.db_url, "audit", "verify", "--anchor", anchor.text])
    out = capsys.readouterr().out
    assert code == CHECK_FAILED and f"event #{edited}" in out and "position 4" in out


def test_a_deleted_event_is_named_even_when_the_links_are_mended(desk: Desk,
                                                                clock: FakeClock) -> None:
    _busy(desk, clock)
    anchor = audit_query.anchor(desk)
    gone_next = _id_at(desk, 5)
    _exec(desk, "DELETE FROM audit_event WHERE seq = 4")
    plain = audit_query.verify(desk)  # the hole itself
    assert (plain.broken_at, plain.position) == (gone_next, 4) and "missing" in plain.reason
    _exec(desk, "UPDATE audit_event SET seq = seq - 1 WHERE seq > 4")  # close the gap...
    _rewrite_from(desk, 4, _legacy)  # ...and re-link
    mended = audit_query.verify(desk, anchors=[anchor.text])
    assert (mended.broken_at, mended.position) == (gone_next, 4)


def test_a_rewrite_by_someone_holding_the_key_is_caught_by_the_anchor(
    desk: Desk, clock: FakeClock
) -> None:
    """Every desk holds the key, so the keyed chain alone cannot stop a desk user who edits the
    database; the anchor a supervisor kept elsewhere does."""
    _busy(desk, clock)
    early = audit_query.anchor(desk)
    customers.create(desk, name="Later Person", emails=["later@example.com"])
    late = audit_query.anchor(desk)
    _exec(desk, "UPDATE audit_event SET object_id = 99 WHERE seq = :n", n=early.position + 1)
    key = keys.database_key(desk)
    _rewrite_from(desk, early.position + 1, lambda ev: audit.chain_hash(key, ev))
    assert audit_query.verify(desk).ok
    result = audit_query.verify(desk, anchors=[early.text, late.text])
    assert not result.ok and result.position == late.position
    assert f"after position {early.position}" in (result.reason or "")


def test_anchor_is_recorded_supervisor_only_and_printable(desk: Desk, clock: FakeClock,
                                                         home: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    _busy(desk, clock)
    with pytest.raises(Forbidden):
        audit_query.anchor(desk.as_agent("bob"))
    assert main(["--db", desk.settings.db_url, "audit", "anchor"], agent="alice") == 0
    out = capsys.readouterr().out
    text = next(w for w in out.split() if ":" in w and len(w) > 64)
    position, digest = text.split(":")
    with desk.db.session() as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.seq == int(position))).one()
    assert ev.action == "audit.anchor" and ev.hash == digest
    assert audit_query.verify(desk, anchors=[text]).ok
    for bad in ["12", "x:" + "0" * 64, "3:" + "g" * 64]:
        with pytest.raises(Invalid):
            audit_query.verify(desk, anchors=[bad])


def _id_at(desk: Desk, seq: int) -> int:
    with desk.db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM audit_event WHERE seq = :n"),
                            {"n": seq}).scalar_one()


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
    d = verified_request(desk, c.id, "deletion", subject=PII[5], note=PII[6])
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
    verified_request(desk, c.id, "access")
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


def test_a_long_bulk_opt_out_audits_in_bounded_batches(desk: Desk,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch is its own unit of work with its own event, so a mailing system's list of
    thousands neither holds one long transaction nor chains thousands of events at once."""
    monkeypatch.setattr(consent, "BULK_BATCH", 3)
    known = customers.create(desk, name="Known Person", emails=["known@example.com"])
    addresses = [f"gone{n}@example.org" for n in range(6)] + ["known@example.com", "bad address"]
    report = consent.bulk_opt_out(desk, addresses=addresses)
    assert report.suppressed_by_hash == 6 and report.customers_opted_out == (known.id,)
    assert [pos for pos, _ in report.rejected] == [8]
    with desk.db.session() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "consent.bulk_opt_out")
                        .order_by(col(AuditEvent.seq))).all()
    assert [(e.details["first"], e.details["last"]) for e in events] == [(1, 3), (4, 6), (7, 8)]
    assert [e.details["hashed"] for e in events] == [3, 3, 0]
    assert audit_query.verify(desk).ok


def test_audited_changes_wake_listening_desks_and_reads_do_not(desk: Desk) -> None:
    """On PostgreSQL a committed change signals the desks that LISTEN (they refresh); a read,
    though audited, signals nothing, and a change that rolls back signals nothing either."""
    if not is_postgres(desk.settings.db_url):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite desks poll data_version")
    import psycopg

    case_id = cases.create(desk, kind="question", customer_id=None, subject="Hello").case.id
    url = desk.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {changes.CHANNEL}")

        def heard() -> int:
            return sum(1 for _ in listener.notifies(timeout=0.5, stop_after=1))

        cases.get(desk, case_id)
        assert heard() == 0
        with pytest.raises(Invalid), desk.db.session(write=True) as s:
            audit.record(s, desk, None, "case.note", "case", case_id)
            raise Invalid("changed my mind")
        assert heard() == 0
        cases.add_note(desk, case_id=case_id, body="hi")
        assert heard() == 1
