"""Crash safety on SQLite: SIGKILL mid-operation leaves a sound database, before or after each
operation; a locked database waits, then reports Busy (exit code 7)."""

from __future__ import annotations

import mailbox
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.cli import main
from helpdesk.config import Settings
from helpdesk.db import engine as db_engine
from helpdesk.db.engine import open_database
from helpdesk.errors import Busy
from helpdesk.services import agents, audit_query, cases, customers, supervisor
from helpdesk.services.context import Desk
from tests.conftest import verified_request

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

BATCH = 150


@pytest.fixture
def sqlite_desk(tmp_path: Path, _sqlite_template: Path) -> Iterator[Desk]:
    path = tmp_path / "desk.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    db = open_database(url)
    desk = Desk(db=db, settings=Settings(db_url=url, timezone="UTC", key_file=tmp_path / "key"),
                actor_name="alice")
    yield desk
    db.dispose()


def _run_script(desk: Desk, body: str) -> subprocess.Popen[str]:
    """A real desk process running ``body`` with ``desk`` bound; prints 'ready' when it starts."""
    prelude = f"""
        import sys
        from pathlib import Path
        from helpdesk.config import Settings
        from helpdesk.db.engine import open_database
        from helpdesk.services.context import Desk
        url = {desk.settings.db_url!r}
        desk = Desk(db=open_database(url), actor_name="alice",
                    settings=Settings(db_url=url, timezone="UTC",
                                      key_file=Path({str(desk.settings.key_file)!r})))
    """
    code = textwrap.dedent(prelude) + textwrap.dedent(body)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _kill_after(proc: subprocess.Popen[str], delay: float, *, rounds: int = 0) -> int:
    """Wait for 'ready' and ``rounds`` progress lines, let it work ``delay`` seconds more,
    SIGKILL it; returns the rounds completed."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
    for _ in range(rounds):
        proc.stdout.readline()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    return rounds + len(out.split())


def _assert_sound(desk: Desk) -> None:
    path = desk.db.sqlite_path
    assert path is not None
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    report = audit_query.verify(desk)
    assert report.ok, report


@pytest.fixture
def batch(sqlite_desk: Desk) -> list[int]:
    agents.add(sqlite_desk, name="bob")
    agents.add(sqlite_desk, name="carol")
    c = customers.create(sqlite_desk, name="Ann", emails=["ann@example.com"])
    return [cases.create(sqlite_desk, kind="question", customer_id=c.id).case.id
            for _ in range(BATCH)]


@pytest.mark.parametrize("delay", [0.0, 0.15, 0.4, 0.9, 1.7])
def test_kill_during_bulk_reassignment(sqlite_desk: Desk, batch: list[int], delay: float) -> None:
    proc = _run_script(sqlite_desk, f"""
        from helpdesk.services import supervisor
        ids = {batch!r}
        print("ready", flush=True)
        for i in range(10_000):
            supervisor.reassign(desk, case_ids=ids, assignee=("bob", "carol")[i % 2],
                                reason="rebalance")
            print(i, flush=True)
    """)
    rounds = _kill_after(proc, delay)
    _assert_sound(sqlite_desk)
    with sqlite_desk.db.session() as s:
        assignees = set(s.execute(sa.text(
            "SELECT DISTINCT assignee_id FROM support_case")).scalars())
        assigns = s.execute(sa.text(
            "SELECT count(*) FROM audit_event WHERE action = 'case.assign'")).scalar_one()
    assert len(assignees) == 1, "a bulk reassignment was left half-way"
    assert assigns % BATCH == 0 and assigns // BATCH >= rounds
    # re-running completes the operation
    done = supervisor.reassign(sqlite_desk, case_ids=batch, assignee="carol", reason="finish")
    assert {c.assignee_name for c in done} == {"carol"} and len(done) == BATCH
    _assert_sound(sqlite_desk)


@pytest.mark.parametrize("delay", [0.05, 0.5, 1.2])
def test_kill_while_creating_customers(sqlite_desk: Desk, delay: float) -> None:
    """Each create writes a customer, its e-mails, the search index and an audit event."""
    proc = _run_script(sqlite_desk, """
        from helpdesk.services import customers
        print("ready", flush=True)
        for i in range(100_000):
            customers.create(desk, name=f"Person {i}", emails=[f"p{i}@example.com",
                             f"alt{i}@example.org"], company="Acme")
            print(i, flush=True)
    """)
    rounds = _kill_after(proc, delay)
    _assert_sound(sqlite_desk)
    with sqlite_desk.db.session() as s:
        n_customers = s.execute(sa.text("SELECT count(*) FROM customer")).scalar_one()
        n_emails = s.execute(sa.text("SELECT count(*) FROM customer_email")).scalar_one()
        n_events = s.execute(sa.text(
            "SELECT count(*) FROM audit_event WHERE action = 'customer.create'")).scalar_one()
    assert n_customers >= rounds
    assert n_emails == 2 * n_customers and n_events == n_customers
    if n_customers:
        assert [h.id for h in customers.find(sqlite_desk, f"p{n_customers - 1}@example.com")]
    customers.create(sqlite_desk, name="After", emails=["after@example.com"])
    _assert_sound(sqlite_desk)


# --- a locked database ---------------------------------------------------------------------------

def test_locked_database_waits_then_reports_busy(
    sqlite_desk: Desk, monkeypatch: pytest.MonkeyPatch, home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agents.whoami(sqlite_desk)  # bootstrap before the lock is taken
    sqlite_desk.db.dispose()  # new connections pick up the short timeout
    monkeypatch.setattr(db_engine, "BUSY_TIMEOUT_MS", 400)
    proc = _writer(sqlite_desk)
    try:
        started = time.monotonic()
        with pytest.raises(Busy):
            customers.create(sqlite_desk, name="Ann", emails=["ann@example.com"])
        assert time.monotonic() - started >= 0.35  # it waited for the other writer first
        code = main(["--db", sqlite_desk.settings.db_url, "customer", "add",
                     "--name", "Ann", "--email", "ann@example.com"], agent="alice")
        assert code == 7
        assert "locked by another writer" in capsys.readouterr().err
        # reading is not blocked by a writer (WAL)
        assert customers.find(sqlite_desk, "Ann") == []
    finally:
        proc.kill()
        proc.wait()
    customers.create(sqlite_desk, name="Ann", emails=["ann@example.com"])  # works once released


def _writer(desk: Desk) -> subprocess.Popen[str]:
    code = textwrap.dedent(f"""
        import sqlite3, time
        conn = sqlite3.connect({str(desk.db.sqlite_path)!r}, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize(("rounds", "delay"), [(0, 0.05), (5, 0.02), (20, 0.0)])
def test_kill_during_erasures(sqlite_desk: Desk, rounds: int, delay: float) -> None:
    """Each customer is either untouched or erased with its ledger row, never half-way; erasing
    again afterwards finishes every one."""
    requests = {}
    for i in range(40):
        c = customers.create(sqlite_desk, name=f"Gone {i}", emails=[f"gone{i}@example.com"],
                             company="Acme")
        kase = verified_request(sqlite_desk, c.id, "deletion", subject=f"erase Gone {i}",
                                note=f"Gone {i} asked by mail")
        requests[c.id] = kase.case.id
    proc = _run_script(sqlite_desk, f"""
        from helpdesk.services import erasure
        print("ready", flush=True)
        for cid, case_id in {requests!r}.items():
            erasure.erase(desk, customer_id=cid, case_id=case_id)
            print(cid, flush=True)
    """)
    _kill_after(proc, delay, rounds=rounds)
    _assert_sound(sqlite_desk)
    with sqlite_desk.db.session() as s:
        rows = s.execute(sa.text(
            "SELECT c.id, c.name, c.erased_at, "
            "(SELECT count(*) FROM customer_email e WHERE e.customer_id = c.id), "
            "(SELECT count(*) FROM erasure l WHERE l.customer_id = c.id), "
            "(SELECT count(*) FROM support_case k WHERE k.customer_id = c.id "
            " AND k.subject IS NOT NULL) FROM customer c")).all()
    for cid, name, erased_at, emails, ledger, subjects in rows:
        untouched = (name, emails, ledger, subjects) == (f"Gone {cid - 1}", 1, 0, 1)
        erased = name is None and erased_at is not None and (emails, ledger, subjects) == (0, 1, 0)
        assert untouched or erased, (cid, name, emails, ledger, subjects)
    from helpdesk.services import erasure

    for cid, case_id in requests.items():
        erasure.erase(sqlite_desk, customer_id=cid, case_id=case_id)
    with sqlite_desk.db.session() as s:
        statuses = s.execute(sa.text("SELECT status, count(*) FROM erasure GROUP BY status")).all()
    assert statuses == [("complete", len(requests))]
    assert customers.find(sqlite_desk, "Gone") == []
    _assert_sound(sqlite_desk)


def _mbox(path: Path, count: int, senders: list[str]) -> None:
    box = mailbox.mbox(path)
    for i in range(count):
        msg = EmailMessage()
        msg["From"] = senders[i % len(senders)] if i % 4 else f"stranger{i}@example.net"
        msg["To"] = "info@example.com"
        msg["Subject"] = f"Please delete my data ({i})"
        msg["Message-ID"] = f"<crash-{i}@example.com>"
        msg["Date"] = "Tue, 10 Mar 2026 09:00:00 +0000"
        msg.set_content(f"Hello,\n\nplease delete everything you hold about me. Ref {i}.\n")
        box.add(msg)
    box.flush()
    box.close()


@pytest.mark.parametrize(("rounds", "delay"), [(0, 0.1), (5, 0.03), (15, 0.0)])
def test_kill_during_import(sqlite_desk: Desk, tmp_path: Path, rounds: int, delay: float) -> None:
    """Batches commit whole: after a kill every imported letter is filed (case or intake item),
    and importing the same mail again completes it without duplicates."""
    senders = [customers.create(sqlite_desk, name=f"Sender {i}",
                                emails=[f"sender{i}@example.com"]).emails[0].address
               for i in range(10)]
    source = tmp_path / "inbox.mbox"
    total = 600
    _mbox(source, total, senders)
    proc = _run_script(sqlite_desk, f"""
        from helpdesk.services import intake
        print("ready", flush=True)
        intake.import_paths(desk, paths=[{str(source)!r}], batch_size=20,
                            progress=lambda p: print(p.messages, flush=True))
    """)
    _kill_after(proc, delay, rounds=rounds)
    _assert_sound(sqlite_desk)

    def state() -> tuple[int, int]:
        with sqlite_desk.db.session() as s:
            letters = s.execute(sa.text(
                "SELECT count(*) FROM message WHERE direction = 'inbound'")).scalar_one()
            unfiled = s.execute(sa.text(
                "SELECT count(*) FROM message m WHERE m.direction = 'inbound' "
                "AND m.case_id IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM intake_item i WHERE i.message_id = m.id)")).scalar_one()
        return letters, unfiled

    letters, unfiled = state()
    assert unfiled == 0 and letters % 20 == 0  # whole batches only
    from helpdesk.services import intake

    intake.import_paths(sqlite_desk, paths=[source])
    assert state() == (total, 0)
    _assert_sound(sqlite_desk)


@pytest.mark.parametrize("delay", [0.3, 0.9, 1.8])
def test_kill_during_demo_generation(sqlite_desk: Desk, delay: float) -> None:
    """The demo fills the desk in one unit of work: after a kill it is empty or complete, and
    an empty desk can be filled again."""
    size = 60_000
    proc = _run_script(sqlite_desk, f"""
        from helpdesk import demo
        print("ready", flush=True)
        demo.generate(desk, customers={size}, seed=7)
        print("done", flush=True)
    """)
    _kill_after(proc, delay)
    _assert_sound(sqlite_desk)
    with sqlite_desk.db.session() as s:
        filled = s.execute(sa.text("SELECT count(*) FROM customer")).scalar_one()
        emails = s.execute(sa.text("SELECT count(DISTINCT customer_id) FROM customer_email")
                           ).scalar_one()
    assert filled in (0, size) and emails == filled
    if filled == 0:
        from helpdesk import demo

        assert demo.generate(sqlite_desk, customers=50, seed=7)["customer"] == 50
        _assert_sound(sqlite_desk)
