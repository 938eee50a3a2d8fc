"""The bytes on disk: after an erasure, no file of the desk holds the person's name, e-mail or
phone, in every scenario the issue names. SQLite: every file beside the database (its
write-ahead log and the desk's own copies included; backups made with ``helpdesk backup`` are
the honest exception, listed in the erasure record until they expire). PostgreSQL: the
database's files after ``helpdesk db compact`` (needs read access to the server's data
directory: ``SHOW data_directory`` or ``HELPDESK_TEST_PG_DATA``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.erasure_race import NAME as RACE_NAME
from bench.erasure_race import trial
from helpdesk.config import Settings
from helpdesk.db import migrate
from helpdesk.db.engine import create_db_engine, open_database
from helpdesk.domain import CaseKind
from helpdesk.intake import parse
from helpdesk.services import (
    backup,
    cases,
    customers,
    erasure,
    intake,
    merge,
    verification,
)
from helpdesk.services.context import Desk
from tests.intake_mail import mail, write_mbox

NAME = "Zebediah Quillfeather"
EMAIL = "zeb.quillfeather@example.org"
OTHER = "zq.private@example.net"
PHONE = "+44 20 7946 0958"
WORDS = (NAME, EMAIL, OTHER, PHONE)
assert RACE_NAME == NAME  # the race trial's person is the same one


def hits(files: list[Path]) -> dict[str, list[str]]:
    """Which of the person's identifiers each file holds (any letter case)."""
    found = {}
    for f in files:
        try:
            data = f.read_bytes().lower()
        except FileNotFoundError:  # the server removed it meanwhile (a rewritten table)
            continue
        words = [w for w in WORDS if w.lower().encode() in data]
        if words:
            found[f.name] = words
    return found


def sqlite_files(path: Path, *, except_: set[str] = frozenset()) -> list[Path]:  # type: ignore[assignment]
    """Every file in the database's folder that belongs to the desk's database or its copies."""
    return [f for f in path.parent.iterdir()
            if f.is_file() and f.name.startswith(path.name) and str(f) not in except_]


def pg_files(desk: Desk) -> list[Path]:
    with desk.db.engine.connect() as conn:
        oid = conn.exec_driver_sql(
            "SELECT oid FROM pg_database WHERE datname = current_database()").scalar()
        try:
            data_dir = conn.exec_driver_sql("SHOW data_directory").scalar()
        except sa.exc.DBAPIError:
            data_dir = os.environ.get("HELPDESK_TEST_PG_DATA")
    base = Path(data_dir or "/nonexistent") / "base" / str(oid)
    try:
        return [f for f in base.iterdir() if f.is_file()]
    except OSError:
        pytest.skip("the PostgreSQL data directory is not readable here (set "
                    "HELPDESK_TEST_PG_DATA and run as a user who may read it)")


def files_after_erasure(desk: Desk, *, backups: set[str] = frozenset()) -> list[Path]:  # type: ignore[assignment]
    if desk.db.sqlite_path is not None:
        return sqlite_files(desk.db.sqlite_path, except_=backups)
    problem = None
    for _ in range(3):  # as documented: when it says sessions were open, run it again
        problem = erasure.compact(desk).problem
        if problem is None:
            break
    assert problem is None, f"db compact could not vouch for the files: {problem}"
    return pg_files(desk)


def relations(desk: Desk, found: dict[str, list[str]]) -> dict[str, list[str]]:
    """PostgreSQL file names as the relations they belong to (for a failure's message)."""
    if desk.db.backend != "postgresql":
        return found
    with desk.db.engine.connect() as conn:
        return {str(conn.exec_driver_sql(
            "SELECT coalesce((SELECT relname FROM pg_class WHERE pg_relation_filenode(oid) = "
            f"{int(name.split('.')[0].split('_')[0])}), 'file {name}')").scalar()): words
            for name, words in found.items()}


def _when(desk: Desk, days: float) -> str:
    return format_datetime(desk.now() - timedelta(days=days))


def _person(desk: Desk) -> tuple[int, int]:
    # not the desk's only customer: PostgreSQL's ANALYZE leaves an emptied table's last sample
    customers.create(desk, name="Ada Bystander", emails=["ada@example.com"], phone="+1 555 0100")
    person = customers.create(desk, name=NAME, emails=[EMAIL, OTHER], phone=PHONE)
    request = cases.create(desk, kind=CaseKind.DELETION, customer_id=person.id,
                           subject=f"deletion for {NAME}")
    verification.verify(desk, case_id=request.case.id, method="identity_document")
    return person.id, request.case.id


def _quarantined(desk: Desk, tmp_path: Path) -> tuple[int, int]:
    ids = _person(desk)
    # no mail headers at all (a fragment of a broken export): quarantined with its raw bytes
    fragment = f"X-Fragment: 1\n\nforwarded by {NAME} <{EMAIL}>, call {PHONE}\n".encode()
    r = intake.import_paths(desk, paths=[write_mbox(tmp_path / "q.mbox", [fragment])])
    assert r.quarantined == 1
    return ids


def _oversize(desk: Desk, tmp_path: Path) -> tuple[int, int]:
    ids = _person(desk)
    big = mail(frm=f"{NAME} <{OTHER}>", msgid="<big@example.net>", date=_when(desk, 2),
               body=f"{NAME} {PHONE}\n" + "x" * (parse.MAX_MESSAGE_BYTES + 10))
    r = intake.import_paths(desk, paths=[write_mbox(tmp_path / "big.mbox", [big])])
    assert r.quarantined == 1
    return ids


def _merged(desk: Desk, tmp_path: Path) -> tuple[int, int]:
    customers.create(desk, name="Ada Bystander", emails=["ada@example.com"], phone="+1 555 0100")
    first = customers.create(desk, name=NAME, emails=[EMAIL]).id
    second = customers.create(desk, name="Z. Quillfeather", emails=[OTHER], phone=PHONE).id
    intake.import_paths(desk, paths=[write_mbox(tmp_path / "m.mbox", [
        mail(frm=f"{NAME} <{OTHER}>", msgid="<m@example.net>", date=_when(desk, 3),
             body=f"{NAME}, {PHONE}")])])
    merge.merge(desk, keep_id=second, other_id=first)
    request = cases.create(desk, kind=CaseKind.DELETION, customer_id=second)
    verification.verify(desk, case_id=request.case.id, method="identity_document")
    return second, request.case.id


SCENARIOS: dict[str, Callable[[Desk, Path], tuple[int, int]]] = {
    "quarantined mail": _quarantined,
    "over-size mail": _oversize,
    "merge": _merged,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_file_holds_the_person_after_the_erasure(
    desk: Desk, tmp_path: Path, scenario: str
) -> None:
    customer_id, case_id = SCENARIOS[scenario](desk, tmp_path)
    before = (files_after_erasure(desk) if desk.db.sqlite_path is None
              else sqlite_files(desk.db.sqlite_path))
    assert hits(before)  # the scan below can fail

    info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)

    assert info.status == "complete", info.steps
    assert relations(desk, hits(files_after_erasure(desk))) == {}
    if desk.db.backend == "postgresql":
        assert erasure.get(desk, customer_id=customer_id).steps["compacted_at"]


def test_no_file_holds_the_person_after_an_import_during_the_erasure(
    db_url: str, tmp_path: Path
) -> None:
    result = trial(db_url, tmp_path, seed=11, oversize=True)
    assert result.clean, result
    db = open_database(db_url)
    try:
        desk = Desk(db=db, settings=Settings(db_url=db_url, timezone="Europe/Berlin",
                                             key_file=tmp_path / "trial.key"),
                    actor_name="alice")
        assert relations(desk, hits(files_after_erasure(desk))) == {}
    finally:
        db.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'desk' / 'helpdesk.sqlite3'}"


def _desk(url: str, tmp_path: Path, clock: Callable[[], object]) -> Desk:
    return Desk(db=open_database(url), settings=Settings(
        db_url=url, timezone="Europe/Berlin", key_file=tmp_path / "key"),
        actor_name="alice", clock=clock)  # type: ignore[arg-type]


def test_upgrade_copy(sqlite_url: str, tmp_path: Path, clock: Callable[[], object]) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    path.parent.mkdir()
    engine = create_db_engine(sqlite_url)
    migrate.upgrade(engine, "0013")  # an older desk wrote the person down
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO customer (id, name, phone, under_13, marketing_opted_out, created_at, "
            "updated_at, version) VALUES (5, :n, :p, false, false, :t, :t, 1)"),
            {"n": NAME, "p": PHONE, "t": "2026-01-01 00:00:00"})
        conn.execute(sa.text(
            "INSERT INTO customer_email (customer_id, address, normalized, is_primary, "
            "created_at) VALUES (5, :e, :e, true, :t)"), {"e": EMAIL, "t": "2026-01-01"})
    engine.dispose()
    # a copy an earlier, failed upgrade left behind
    leftover = path.with_name(path.name + ".pre-upgrade-20260101T000000Z")
    leftover.write_bytes(path.read_bytes())

    desk = _desk(sqlite_url, tmp_path, clock)  # upgrades: copies aside, then removes the copy
    try:
        assert [p.name for p in backup.desk_copies(path)] == [leftover.name]
        case_id = cases.create(desk, kind=CaseKind.DELETION, customer_id=5).case.id
        verification.verify(desk, case_id=case_id, method="identity_document")
        info = erasure.erase(desk, customer_id=5, case_id=case_id)
        assert info.status == "complete" and info.copies == ((leftover.name, "erased"),)
        assert hits(sqlite_files(path)) == {}
    finally:
        desk.db.dispose()


def test_restore_copy_and_backups(
    sqlite_url: str, tmp_path: Path, clock: Callable[[], object]
) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    path.parent.mkdir()
    desk = _desk(sqlite_url, tmp_path, clock)
    try:
        customer_id, case_id = _person(desk)
        saved = backup.backup(desk, target=path.parent / "backup-1.sqlite3", keep_days=14)
        backup.restore(desk, source=Path(saved.path))  # leaves the live file aside
        copies = backup.desk_copies(path)
        assert len(copies) == 1 and hits(copies)

        info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)

        assert info.status == "complete"
        assert info.copies == ((copies[0].name, "erased"),)
        assert [(b.path, b.keep_until) for b in info.backups] == [
            (saved.path, saved.keep_until)]
        assert hits(sqlite_files(path, except_={saved.path})) == {}
        assert hits([Path(saved.path)])  # the backup still holds them: listed, with its date
        letter = erasure.completion_letter(desk, erasure_id=info.id)
        until = saved.keep_until.astimezone(desk.settings.tz).date().isoformat()
        assert f"until {until}" in letter
    finally:
        desk.db.dispose()
