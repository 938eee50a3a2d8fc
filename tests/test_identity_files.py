"""Private files: everything that holds personal data is 0600 in a 0700 folder under umask 022;
an existing target or a symbolic link is refused; a looser existing database is tightened."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpdesk import files
from helpdesk.cli import main
from helpdesk.config import Settings
from helpdesk.db import migrate
from helpdesk.db.engine import create_db_engine, open_database
from helpdesk.errors import Conflict, Invalid
from helpdesk.services import backup, cases, customers, replies
from helpdesk.services.context import Desk, open_desk
from tests.conftest import verified_request
from tests.replies_support import add_policy


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def local(tmp_path: Path, home: Path) -> Iterator[Desk]:
    """A desk on a SQLite file of its own, first opened by this test (so made by the desk)."""
    url = f"sqlite:///{tmp_path / 'desk' / 'helpdesk.sqlite3'}"
    (tmp_path / "desk").mkdir()
    desk = Desk(db=open_database(url), settings=Settings(db_url=url, timezone="UTC",
                                                        key_file=tmp_path / "key"),
                actor_name="alice")
    add_policy(desk)
    c = customers.create(desk, name="Pia Private", emails=["pia@example.com"])
    cases.create(desk, kind="question", customer_id=c.id)
    yield desk
    desk.db.dispose()


def test_default_database_and_its_folder_are_private(home: Path) -> None:
    desk = open_desk()
    try:
        customers.create(desk, name="Pia Private", emails=["pia@example.com"])
        data = home / "data"
        db = data / "helpdesk.sqlite3"
        assert mode(data) == 0o700 and mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            assert mode(Path(f"{db}{suffix}")) == 0o600
    finally:
        desk.db.dispose()


def test_a_looser_existing_database_is_tightened_with_a_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.sqlite3"
    open_database(f"sqlite:///{path}").dispose()
    for name in (path, Path(f"{path}-wal")):
        name.touch()
        name.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        db = open_database(f"sqlite:///{path}")
    try:
        assert mode(path) == 0o600 and mode(Path(f"{path}-wal")) == 0o600
        with db.engine.begin() as conn:  # the WAL SQLite writes in keeps the file's mode
            conn.exec_driver_sql("CREATE TABLE t (x)")
        assert mode(Path(f"{path}-wal")) == 0o600 and mode(Path(f"{path}-shm")) == 0o600
    finally:
        db.dispose()
    assert caplog.text.count("tightened") == 2 and "644" in caplog.text


def test_a_database_folder_that_does_not_exist_is_refused(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'helpdesk.sqlite3'}"
    with pytest.raises(Invalid, match="does not exist"):
        create_db_engine(url)
    assert main(["--db", url, "agent", "whoami"]) == 6
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert not (tmp_path / "typo").exists()


def test_a_database_behind_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.sqlite3"
    open_database(f"sqlite:///{real}").dispose()
    (tmp_path / "link.sqlite3").symlink_to(real)
    with pytest.raises(Invalid, match="symbolic link"):
        open_database(f"sqlite:///{tmp_path / 'link.sqlite3'}")
    (tmp_path / "dangling.sqlite3").symlink_to(tmp_path / "nowhere.sqlite3")
    with pytest.raises(Invalid, match="symbolic link"):
        open_database(f"sqlite:///{tmp_path / 'dangling.sqlite3'}")
    assert not (tmp_path / "nowhere.sqlite3").exists()


def test_backups_and_copies_aside_are_private(local: Desk, tmp_path: Path) -> None:
    out = tmp_path / "backups"
    out.mkdir()
    target = out / "desk.bak"
    backup.backup(local, target=target)
    assert mode(target) == 0o600
    # pre-restore copy and the restored database
    report = backup.restore(local, source=target)
    assert mode(Path(report.aside)) == 0o600
    assert mode(local.db.sqlite_path or target) == 0o600
    # the pre-upgrade copy is gone once the upgrade has worked (a failed upgrade keeps it, 0600:
    # tests/test_foundation_migrations.py)
    live = local.db.sqlite_path
    assert live is not None
    local.db.dispose()
    engine = create_db_engine(f"sqlite:///{live}")
    migrate.downgrade(engine, "0003")
    engine.dispose()
    open_database(f"sqlite:///{live}").dispose()
    assert list(live.parent.glob("helpdesk.sqlite3.pre-upgrade-*")) == []
    assert mode(live) == 0o600


def test_existing_targets_and_links_are_refused_force_replaces_files_only(
    local: Desk, tmp_path: Path
) -> None:
    target = tmp_path / "desk.bak"
    target.write_text("keep me")
    with pytest.raises(Conflict, match="--force"):
        backup.backup(local, target=target)
    assert target.read_text() == "keep me"
    backup.backup(local, target=target, force=True)
    assert mode(target) == 0o600 and target.stat().st_size > 1000
    elsewhere = tmp_path / "someone-elses.txt"
    elsewhere.write_text("theirs")
    link = tmp_path / "link.bak"
    link.symlink_to(elsewhere)
    dangling = tmp_path / "dangling.bak"
    dangling.symlink_to(tmp_path / "would-be-created.bak")
    for path in (link, dangling):
        for force in (False, True):
            with pytest.raises(Invalid, match="symbolic link"):
                backup.backup(local, target=path, force=force)
    assert elsewhere.read_text() == "theirs"
    assert not (tmp_path / "would-be-created.bak").exists()
    assert [p.name for p in tmp_path.glob(".helpdesk-*")] == []  # no temporary file left


def test_the_writer_never_follows_a_link_placed_between_check_and_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is checked first, but the file only takes it at the end, with link(2) (which
    refuses any existing name) or rename(2) (which replaces a link, never writes through it)."""
    target = tmp_path / "export.txt"
    victim = tmp_path / "victim.txt"
    victim.write_text("theirs")
    real_check = files.check_target

    def check_then_plant(path: Path, **kw: object) -> None:
        real_check(path, **kw)  # type: ignore[arg-type]
        if not path.is_symlink():
            path.symlink_to(victim)

    monkeypatch.setattr(files, "check_target", check_then_plant)
    with pytest.raises(Conflict):
        files.write_private(target, "personal data")
    assert victim.read_text() == "theirs"


def test_cli_outputs_are_private_and_refuse_existing_files(
    local: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = local.settings.db_url
    cid = customers.find(local, "Pia")[0].id
    case_id = customers.get(local, cid).cases[0].id
    verified_request(local, cid, "access")
    outs = {
        "export": ["export", str(cid), "--out"],
        "suppression": ["suppression", "export", "--out"],
        "audit": ["audit", "export", "--out"],
        "backup": ["backup"],
        "reply": ["reply", str(case_id), "--template", "acknowledgement", "--out"],
    }
    for name, argv in outs.items():
        path = tmp_path / f"{name}.out"
        assert main(["--db", url, *argv, str(path)], agent="alice") == 0, capsys.readouterr()
        assert mode(path) == 0o600, name
        before = path.read_bytes()
        capsys.readouterr()
        assert main(["--db", url, *argv, str(path)], agent="alice") == 5, name
        err = capsys.readouterr().err
        assert "already exists" in err and err.count("\n") == 1, name
        assert path.read_bytes() == before
        link = tmp_path / f"{name}.link"
        link.symlink_to(tmp_path / f"{name}.target")
        assert main(["--db", url, *argv, str(link), "--force"], agent="alice") == 6, name
        assert not (tmp_path / f"{name}.target").exists()
        assert main(["--db", url, *argv, str(path), "--force"], agent="alice") == 0, name
        assert mode(path) == 0o600


def test_reply_files_are_private(local: Desk, tmp_path: Path) -> None:
    cid = customers.find(local, "Pia")[0].id
    case_id = customers.get(local, cid).cases[0].id
    out = tmp_path / "reply.eml"
    replies.write(local, case_id=case_id, template="acknowledgement", out=out)
    assert mode(out) == 0o600
