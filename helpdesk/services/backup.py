"""Backups and restores of the embedded SQLite desk, keeping every erasure made since the backup.

A backup is a copy made with SQLite's online backup API: a consistent snapshot even while other
desks are writing (WAL readers never block writers).

A restore must never bring back a person erased after the backup was taken. So it:

1. copies the live database aside (the copy keeps everything done since the backup, including
   the audit events the restored file does not have);
2. stages the backup in a scratch file next to the live one, upgrades its schema;
3. carries over the erasure ledger and the suppression list from the copy aside (hashes and ids
   only) and re-applies the ledger in the staged file;
4. writes the staged file *into* the live database with the backup API, under SQLite's own
   locking, so desks that have the file open see the restored data instead of writing into an
   unlinked file. A writer that holds the lock past the busy timeout makes the restore stop with
   :class:`~helpdesk.errors.Busy`, leaving the live database as it was.

PostgreSQL desks use ``pg_dump``/``pg_restore`` (see docs/offline-install.md) followed by
``helpdesk erasures reapply``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from helpdesk import files
from helpdesk.db import engine as db_engine
from helpdesk.db import migrate
from helpdesk.db.engine import (
    Database,
    _stamp,
    backup_sqlite,
    create_db_engine,
    remove_sqlite_file,
)
from helpdesk.db.models import Agent, AuditEvent, BackupCopy, Erasure, SuppressionEntry
from helpdesk.domain import Role
from helpdesk.errors import Busy, HelpdeskError, Invalid
from helpdesk.services import audit, keys
from helpdesk.services.context import Desk


@dataclass(frozen=True, slots=True)
class BackupInfo:
    id: int
    path: str
    size: int | None  # None once the file is gone
    made_at: datetime
    keep_until: datetime
    removed_at: datetime | None
    key_fingerprint: str  # the key the backup needs, which is not in it (keys.export it apart)


def _backup_infos(desk: Desk, rows: list[BackupCopy]) -> list[BackupInfo]:
    fingerprint = keys.status(desk).fingerprint or ""  # one key per database, never replaced
    return [BackupInfo(id=row.id or 0, path=row.path,
                       size=Path(row.path).stat().st_size if Path(row.path).is_file() else None,
                       made_at=row.made_at, keep_until=row.keep_until, removed_at=row.removed_at,
                       key_fingerprint=fingerprint)
            for row in rows]


@dataclass(frozen=True, slots=True)
class RestoreReport:
    source: str
    aside: str  # the live database as it was just before the restore
    ledger_carried: int  # erasure ledger rows added to the restored data from the live one
    suppressions_carried: int
    re_erased: tuple[int, ...]  # customer ids the ledger erased again


#: A century: a keep-until date must stay a date (and no backup should outlive that).
MAX_KEEP_DAYS = 36_500


def _undecodable(text: str) -> bool:
    """A name whose bytes were not UTF-8 (Python holds them as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _live_path(desk: Desk) -> Path:
    path = desk.db.sqlite_path
    if path is None:
        raise Invalid(
            "backup and restore work on the embedded SQLite database; for PostgreSQL use "
            "pg_dump / pg_restore and then 'helpdesk erasures reapply' (see the docs)"
        )
    return path


def backup(
    desk: Desk, *, target: Path, keep_days: int | None = None, force: bool = False
) -> BackupInfo:
    """Copy the live database to ``target`` (supervisors only: a backup holds everyone's data),
    to be kept ``keep_days`` (default: the ``backup_keep_days`` setting).

    The backup's record (and the audit event) are committed first, so the copy contains its own
    record; erasures made later list it as a copy that still holds the person until it expires.
    The copy is a private file (0600, never through a link, an existing file only replaced with
    ``force``).
    """
    live = _live_path(desk)
    target = target.expanduser().absolute()
    days = desk.settings.backup_keep_days if keep_days is None else keep_days
    if not 1 <= days <= MAX_KEEP_DAYS:
        raise Invalid(f"a backup is kept for at least one day and at most {MAX_KEEP_DAYS} days",
                      field="keep_days")
    if _undecodable(str(target)):
        raise Invalid("the backup's file name is not UTF-8 text; the desk lists every "
                      "backup by its name: choose a name in UTF-8", field="path")
    files.check_target(target, force=force, field="path")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        now = desk.now()
        row = BackupCopy(path=str(target), made_at=now, keep_until=now + timedelta(days=days),
                         made_by_id=actor.id)
        s.add(row)
        s.flush()
        audit.record(s, desk, actor, "backup.create", "backup_copy", row.id, target=str(target),
                     keep_days=days)
    try:
        backup_sqlite(live, target=target, force=force)
    except BaseException:
        with desk.db.session(write=True) as s:  # no copy came of it: nothing to list
            failed = s.get(BackupCopy, row.id)
            if failed is not None:
                failed.removed_at = desk.now()
                s.add(failed)
        raise
    return _backup_infos(desk, [row])[0]


def list_backups(desk: Desk) -> list[BackupInfo]:
    """Every backup the desk made, newest first, with whether its file is still there."""
    with desk.db.session() as s:
        desk.actor(s)
        rows = s.exec(select(BackupCopy).order_by(col(BackupCopy.id).desc())).all()
    return _backup_infos(desk, list(rows))


def prune(desk: Desk) -> list[BackupInfo]:
    """Delete the backups past their keep-until date (supervisors only); returns them."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        now = desk.now()
        due = s.exec(select(BackupCopy).where(col(BackupCopy.removed_at).is_(None),
                                              col(BackupCopy.keep_until) <= now)).all()
        for row in due:
            remove_sqlite_file(Path(row.path))
            row.removed_at = now
            s.add(row)
            audit.record(s, desk, actor, "backup.prune", "backup_copy", row.id)
    return _backup_infos(desk, list(due))


def integrity_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a sound helpdesk database, or None when it is."""
    try:
        conn = sqlite3.connect(path)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                return f"integrity check failed ({result})"
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone():
                return "it is not a helpdesk database"
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return "it is not a SQLite database"
    return None


def _stage(source: Path, staging: Path) -> None:
    """Copy the backup to the scratch file and check the copy (the backup is only read)."""
    if not source.is_file():  # sqlite3.connect would create an empty database there
        raise Invalid(f"{source} is not a file", field="path")
    try:
        backup_sqlite(source, target=staging)
    except sqlite3.DatabaseError:
        problem: str | None = "it is not a SQLite database"
    else:
        problem = integrity_problem(staging)
    if problem:
        raise Invalid(f"{source} cannot be restored: {problem}", field="path")


def restore(desk: Desk, *, source: Path) -> RestoreReport:
    """Replace the live database by the backup at ``source``, keeping later erasures."""
    from helpdesk.services import erasure

    live = _live_path(desk)
    source = source.expanduser()
    with desk.db.session(write=True) as s:
        desk.actor(s, require=Role.SUPERVISOR)
    staging = _free_name(live, "restoring")
    try:
        _stage(source, staging)
        stage_db = _open_staged(staging)
        try:
            keys.give_key_record(desk, stage_db)
            aside = backup_sqlite(live, target=_free_name(live, "pre-restore"))
            ledger, suppressions = _carry_over(aside, stage_db)
            staged = replace(desk, db=stage_db)
            re_erased = tuple(erasure.reapply_ledger(staged))
            with stage_db.session(write=True) as s:
                actor = staged.actor(s, require=Role.SUPERVISOR)
                audit.record(
                    s, staged, actor, "backup.restore", "database", None, source=str(source),
                    aside=str(aside), live_head=_head(aside), ledger_carried=ledger,
                    suppressions_carried=suppressions, re_erased=list(re_erased),
                )
        finally:
            stage_db.dispose()
        _write_into(staging, live)
    finally:
        remove_sqlite_file(staging)
    desk.db.engine.dispose()  # pooled connections may hold pages of the old file in cache
    return RestoreReport(source=str(source), aside=str(aside), ledger_carried=ledger,
                         suppressions_carried=suppressions, re_erased=re_erased)


#: What the desk names the copies it makes of its own database (engine.open_database, restore).
COPY_LABELS = ("pre-restore", "pre-upgrade")


def desk_copies(live: Path) -> list[Path]:
    """The copies the desk made of the live database beside it (not their -wal/-shm files)."""
    found = []
    for label in COPY_LABELS:
        found += [p for p in live.parent.glob(f"{live.name}.{label}-*")
                  if p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal"))]
    return sorted(found)


def erase_desk_copies(desk: Desk) -> list[dict[str, str]]:
    """Apply the live ledger to every copy the desk keeps beside the live database (a restore's
    copy aside, a copy left by an upgrade that failed), so they do not keep people erased after
    they were made. Returns one ``{"file", "state"}`` per copy; a copy that cannot be erased
    says why (the erasure is then partial)."""
    from helpdesk.services import erasure

    live = desk.db.sqlite_path
    if live is None:
        return []
    results = []
    for copy in desk_copies(live):
        try:
            copy_db = _open_staged(copy)
            try:
                _carry_over(live, copy_db)
                erasure.reapply_ledger(replace(desk, db=copy_db), system=True)
            finally:
                copy_db.dispose()
            results.append({"file": copy.name, "state": "erased"})
        except (sqlite3.Error, HelpdeskError, sa.exc.SQLAlchemyError) as exc:
            results.append({"file": copy.name, "state": f"not erased: {exc}"[:300]})
    return results


def _free_name(live: Path, label: str) -> Path:
    """``<live>.<label>-<time>``, numbered when restores follow each other within a second."""
    base = live.with_name(f"{live.name}.{label}-{_stamp()}")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _open_staged(path: Path) -> Database:
    engine = create_db_engine(f"sqlite:///{path}")
    state = migrate.state(engine)
    if state.ahead:
        engine.dispose()
        raise Invalid("that backup was written by a newer helpdesk; upgrade helpdesk first")
    if state.behind:
        migrate.upgrade(engine)
    return Database(engine)


def _head(path: Path) -> str | None:
    """The newest event of the trail at ``path`` as an anchor (``POSITION:HASH``)."""
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as s:
            row = s.exec(
                select(AuditEvent.seq, AuditEvent.hash).order_by(col(AuditEvent.seq).desc())
                .limit(1)
            ).first()
    finally:
        engine.dispose()
    return audit.Anchor(row[0], row[1]).text if row else None


def _carry_over(aside: Path, stage_db: Database) -> tuple[int, int]:
    """Add the ledger, suppression and backup rows the backup lacks; agent links follow agent
    names."""
    engine = create_db_engine(f"sqlite:///{aside}")
    try:
        with Session(engine) as s:
            ledger = list(s.exec(select(Erasure).order_by(col(Erasure.id))).all())
            suppressions = list(s.exec(select(SuppressionEntry)).all())
            backups = list(s.exec(select(BackupCopy).order_by(col(BackupCopy.id))).all())
            names = dict(s.exec(select(Agent.id, Agent.name)).all())
    finally:
        engine.dispose()
    with stage_db.session(write=True) as s:
        agent_ids = dict(s.exec(select(Agent.name, Agent.id)).all())

        def agent(old_id: int | None) -> int | None:
            return agent_ids.get(names.get(old_id)) if old_id is not None else None

        present = {(e.customer_id, e.requested_at) for e in s.exec(select(Erasure))}
        carried = 0
        for row in ledger:
            if (row.customer_id, row.requested_at) in present:
                continue
            s.add(Erasure(
                # keep the ledger id when it is free, so the trail's erasure events still match
                id=row.id if s.get(Erasure, row.id) is None else None,
                customer_id=row.customer_id, case_id=row.case_id,
                email_hashes=list(row.email_hashes), requested_at=row.requested_at,
                completed_at=row.completed_at, status=row.status, steps=dict(row.steps),
                agent_id=agent(row.agent_id),
            ))
            carried += 1
        known = {(e.email_hash, e.channel) for e in s.exec(select(SuppressionEntry))}
        added = 0
        for entry in suppressions:
            if (entry.email_hash, entry.channel) in known:
                continue
            s.add(SuppressionEntry(
                email_hash=entry.email_hash, channel=entry.channel, reason=entry.reason,
                source=entry.source, created_at=entry.created_at,
                created_by_id=agent(entry.created_by_id),
            ))
            added += 1
        listed = set(s.exec(select(BackupCopy.path, BackupCopy.made_at)).all())
        for b in backups:  # backups made after the restored one still exist and expire
            if (b.path, b.made_at) not in listed:
                s.add(BackupCopy(path=b.path, made_at=b.made_at, keep_until=b.keep_until,
                                 made_by_id=agent(b.made_by_id), removed_at=b.removed_at))
    return carried, added


def _write_into(staging: Path, live: Path) -> None:
    """Copy the staged file over the live database's pages, giving up after the busy timeout."""
    deadline = time.monotonic() + db_engine.BUSY_TIMEOUT_MS / 1000

    def progress(status: int, _remaining: int, _total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise Busy("the database is locked by another writer; restore stopped, nothing changed")

    src = sqlite3.connect(staging)
    try:
        dst = sqlite3.connect(live, timeout=0)
        try:
            src.backup(dst, progress=progress, sleep=0.05)
        finally:
            dst.close()
    finally:
        src.close()
