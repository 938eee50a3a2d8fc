"""Backups (consistent while another process writes) and restores that keep later erasures."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.cli import main
from helpdesk.config import Settings
from helpdesk.db import engine as db_engine
from helpdesk.db.engine import open_database
from helpdesk.errors import Busy, Conflict, Forbidden, Invalid
from helpdesk.services import agents, audit, audit_query, backup, customers, erasure, keys
from helpdesk.services.context import Desk
from tests.conftest import FakeClock, is_postgres, verified_request


@pytest.fixture
def sqlite_desk(tmp_path: Path, _sqlite_template: Path, clock: FakeClock) -> Iterator[Desk]:
    path = tmp_path / "live" / "desk.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    db = open_database(url)
    desk = Desk(db=db, settings=Settings(db_url=url, timezone="UTC", key_file=tmp_path / "key"),
                actor_name="alice", clock=clock)
    agents.whoami(desk)
    yield desk
    db.dispose()


def _counts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        one = conn.execute
        return (one("SELECT count(*) FROM customer").fetchone()[0],
                one("SELECT count(*) FROM customer_email").fetchone()[0],
                one("SELECT count(*) FROM audit_event WHERE action = 'customer.create'")
                .fetchone()[0])
    finally:
        conn.close()


def _chain_ok(path: Path, key: bytes) -> bool:
    db = open_database(f"sqlite:///{path}", upgrade=False)
    try:
        with db.session() as s:
            return audit.verify_chain(s, key).ok
    finally:
        db.dispose()


def test_backup_is_consistent_while_another_process_writes(sqlite_desk: Desk,
                                                           tmp_path: Path) -> None:
    url = sqlite_desk.settings.db_url
    code = textwrap.dedent(f"""
        from pathlib import Path
        from helpdesk.config import Settings
        from helpdesk.db.engine import open_database
        from helpdesk.services import customers
        from helpdesk.services.context import Desk
        desk = Desk(db=open_database({url!r}), actor_name="alice",
                    settings=Settings(db_url={url!r}, timezone="UTC",
                                      key_file=Path({str(tmp_path / 'key')!r})))
        print("ready", flush=True)
        for i in range(100_000):
            customers.create(desk, name=f"Writer {{i}}", emails=[f"w{{i}}@example.com",
                             f"w{{i}}@example.org"])
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        sizes = []
        for n in range(3):
            time.sleep(0.4)
            target = tmp_path / f"backup-{n}.sqlite3"
            backup.backup(sqlite_desk, target=target)
            n_customers, n_emails, n_events = _counts(target)
            assert n_emails == 2 * n_customers and n_events == n_customers
            assert _chain_ok(target, keys.database_key(sqlite_desk))
            sizes.append(n_customers)
        assert proc.poll() is None, "the writer was blocked or died during the backups"
        assert sizes[-1] > sizes[0] > 0  # the writer kept going between backups
    finally:
        proc.kill()
        proc.wait()


def test_backup_refusals(desk: Desk, tmp_path: Path) -> None:
    if is_postgres(desk.settings.db_url):
        with pytest.raises(Invalid, match="pg_dump"):
            backup.backup(desk, target=tmp_path / "b.sqlite3")
        return
    (tmp_path / "taken").write_text("x")
    with pytest.raises(Conflict, match="already exists"):
        backup.backup(desk, target=tmp_path / "taken")
    with pytest.raises(Invalid, match="does not exist"):
        backup.backup(desk, target=tmp_path / "missing" / "b.sqlite3")


def _erase(desk: Desk, customer_id: int) -> None:
    request = verified_request(desk, customer_id, "deletion")
    erasure.erase(desk, customer_id=customer_id, case_id=request.case.id)


def test_restore_keeps_erasures_made_after_the_backup(
    sqlite_desk: Desk, clock: FakeClock, tmp_path: Path, home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    desk = sqlite_desk
    ann = customers.create(desk, name="Ann Keep", emails=["ann@example.com"])
    eve = customers.create(desk, name="Eve Erased", emails=["eve@example.com"])
    old = tmp_path / "last-week.sqlite3"
    backup.backup(desk, target=old)
    clock.advance(days=7)
    customers.create(desk, name="Carl Later", emails=["carl@example.com"])
    _erase(desk, eve.id)
    assert customers.find(desk, "Eve") == []

    capsys.readouterr()
    assert main(["--db", desk.settings.db_url, "restore", str(old),
                 "--json"], agent="alice") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["re_erased"] == [eve.id] and report["ledger_carried"] == 1

    # the backup's data is back, minus the person erased since
    assert [h.id for h in customers.find(desk, "Ann")] == [ann.id]
    assert customers.find(desk, "Eve") == [] and customers.find(desk, "eve@example.com") == []
    assert customers.find(desk, "Carl") == []  # created after the backup: only in the copy aside
    assert customers.get(desk, eve.id).name is None
    path = desk.db.sqlite_path
    assert path is not None
    assert b"eve@example.com" not in path.read_bytes()
    # the live database as it was is kept aside, complete
    aside = Path(report["aside"])
    assert aside.exists() and _counts(aside)[0] == 3
    assert audit_query.verify(desk).ok
    with desk.db.session() as s:
        last = s.execute(sa.text(
            "SELECT action, details FROM audit_event WHERE action = 'backup.restore'"
        )).one()
    assert json.loads(last.details)["re_erased"] == [eve.id]
    # restoring the same backup again still re-erases (the ledger travels every time)
    again = backup.restore(desk, source=old)
    assert again.re_erased == (eve.id,) and again.ledger_carried == 1


def test_restore_refusals(sqlite_desk: Desk, tmp_path: Path) -> None:
    desk = sqlite_desk
    good = tmp_path / "good.sqlite3"
    backup.backup(desk, target=good)
    (tmp_path / "junk.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(Invalid, match="not a SQLite database"):
        backup.restore(desk, source=tmp_path / "junk.sqlite3")
    with pytest.raises(Invalid, match="is not a file"):
        backup.restore(desk, source=tmp_path / "nothing.sqlite3")
    assert not (tmp_path / "nothing.sqlite3").exists()
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(Invalid, match="not a helpdesk database"):
        backup.restore(desk, source=other)
    agents.add(desk, name="bob")
    with pytest.raises(Forbidden):
        backup.restore(desk.as_agent("bob"), source=good)
    live = desk.db.sqlite_path
    assert live is not None
    leftovers = [p.name for p in live.parent.iterdir() if "restoring" in p.name]
    assert leftovers == []


def test_restore_stops_when_a_writer_holds_the_lock(
    sqlite_desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = sqlite_desk
    good = tmp_path / "good.sqlite3"
    backup.backup(desk, target=good)
    customers.create(desk, name="After Backup", emails=["after@example.com"])
    live = desk.db.sqlite_path
    assert live is not None
    monkeypatch.setattr(db_engine, "BUSY_TIMEOUT_MS", 500)
    code = textwrap.dedent(f"""
        import sqlite3, time
        conn = sqlite3.connect({str(live)!r}, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with pytest.raises(Busy):
            backup.restore(desk, source=good)
    finally:
        proc.kill()
        proc.wait()
    assert [h.name for h in customers.find(desk, "After")] == ["After Backup"]
    assert not [p for p in live.parent.iterdir() if "restoring" in p.name]


def test_erasures_reapply_command(desk: Desk, home: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """After a pg_restore (simulated: the data comes back, the ledger stays) the command
    erases again and says whom."""
    c = customers.create(desk, name="Pat Gone", emails=["pat@example.com"])
    _erase(desk, c.id)
    with desk.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE customer SET name = 'Pat Gone', erased_at = NULL, "
                             "erasure_id = NULL WHERE id = :i"), {"i": c.id})
    capsys.readouterr()
    assert main(["--db", desk.settings.db_url, "erasures", "reapply",
                 "--json"], agent="alice") == 0
    assert json.loads(capsys.readouterr().out) == {"re_erased": [c.id]}
    assert customers.get(desk, c.id).name is None
    assert main(["--db", desk.settings.db_url, "erasures", "reapply"], agent="alice") == 0
    assert "nothing to re-erase" in capsys.readouterr().out
