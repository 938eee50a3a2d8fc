"""The desk's copies and the physical step: backups carry a keep-until date that erasures list
and ``backups prune`` honours; ``db compact`` is a supervisor's and records the physical step
in the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpdesk.config import Settings, load_settings
from helpdesk.db.engine import open_database
from helpdesk.domain import CaseKind, Role
from helpdesk.errors import Forbidden, Invalid
from helpdesk.services import agents, backup, cases, customers, erasure, verification
from helpdesk.services.context import Desk
from tests.conftest import FakeClock, Run


@pytest.fixture
def live(tmp_path: Path, clock: FakeClock) -> Iterator[Desk]:
    (tmp_path / "live").mkdir()
    url = f"sqlite:///{tmp_path / 'live' / 'helpdesk.sqlite3'}"
    db = open_database(url)
    desk = Desk(db=db, settings=Settings(db_url=url, timezone="Europe/Berlin",
                                         key_file=tmp_path / "key"), actor_name="alice",
                clock=clock)
    yield desk
    db.dispose()


def _erasable(desk: Desk, email: str) -> tuple[int, int]:
    person = customers.create(desk, name="Wilhelmina Pfefferkorn", emails=[email])
    case = cases.create(desk, kind=CaseKind.DELETION, customer_id=person.id)
    verification.verify(desk, case_id=case.case.id, method="identity_document")
    return person.id, case.case.id


def test_backups_are_listed_until_they_expire_and_pruned_after(
    live: Desk, tmp_path: Path, clock: FakeClock
) -> None:
    old = backup.backup(live, target=tmp_path / "old.sqlite3", keep_days=2)
    kept = backup.backup(live, target=tmp_path / "kept.sqlite3")
    assert (kept.keep_until - kept.made_at).days == 30  # backup_keep_days
    clock.advance(days=3)
    customer_id, case_id = _erasable(live, "wp@example.org")

    info = erasure.erase(live, customer_id=customer_id, case_id=case_id)

    # made before the person was even on file: still listed (an erasure cannot know the
    # backup's contents); the one past its date is not
    assert [b.path for b in info.backups] == [kept.path]
    assert Path(old.path).exists()
    agents.add(live, name="bob", role=Role.AGENT)
    with pytest.raises(Forbidden):
        backup.prune(live.as_agent("bob"))
    pruned = backup.prune(live)
    assert [p.path for p in pruned] == [old.path] and not Path(old.path).exists()
    listed = {b.path: b for b in backup.list_backups(live)}
    assert listed[old.path].removed_at == clock.now and listed[old.path].size is None
    assert listed[kept.path].removed_at is None and listed[kept.path].size
    assert backup.prune(live) == []


def test_a_backup_is_kept_at_least_a_day(live: Desk, tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="at least one day"):
        backup.backup(live, target=tmp_path / "b.sqlite3", keep_days=0)
    assert backup.list_backups(live) == []


def test_backup_keep_days_setting_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("backup_keep_days = 0\n")
    with pytest.raises(Invalid, match="backup_keep_days"):
        load_settings(config)
    config.write_text("backup_keep_days = 7\n")
    assert load_settings(config).backup_keep_days == 7


def test_compact_is_a_supervisors_and_records_the_physical_step(desk: Desk) -> None:
    customer_id, case_id = _erasable(desk, "wp@example.org")
    info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    assert info.steps.get("compacted_at") is None
    agents.add(desk, name="bob", role=Role.AGENT)
    with pytest.raises(Forbidden):
        erasure.compact(desk.as_agent("bob"))

    report = erasure.compact(desk)

    assert report.erasures == (info.id,) and report.problem is None
    assert set(erasure.vacuum_tables(desk)) == set(report.tables)
    after = erasure.get(desk, erasure_id=info.id)
    assert after.steps["compacted_at"] == desk.now().isoformat()
    assert erasure.compact(desk).erasures == ()  # nothing pending any more
    if desk.db.backend == "postgresql":
        assert after.steps["vacuumed_at"]


def test_cli_backup_list_prune_and_compact(cli: Run, tmp_path: Path, db_url: str) -> None:
    code, out, err = cli("db", "compact")
    assert code == 0, err
    assert "erasures whose old row versions are now gone from the files: none pending" in out
    if not db_url.startswith("sqlite"):
        return
    code, out, err = cli("backup", str(tmp_path / "b1.sqlite3"), "--keep-days", "5")
    assert code == 0, err
    assert "kept until" in out
    code, out, _ = cli("backups", "list")
    assert "present" in out
    code, out, _ = cli("backups", "list", "--json")
    assert json.loads(out)[0]["path"] == str(tmp_path / "b1.sqlite3")
    code, out, _ = cli("backups", "prune")
    assert code == 0 and "no backup is past its keep-until date" in out
    code, _, err = cli("backup", str(tmp_path / "b2.sqlite3"), "--keep-days", "0")
    assert code == 6 and "at least one day" in err
