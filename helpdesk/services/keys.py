"""The database's secret key: one per database, held by every desk, never silently replaced.

Suppression hashes (an HMAC of the normalised address) and the audit chain (an HMAC over each
event) are keyed with a secret kept outside the database, so a copy of the database alone cannot
be used to test whether someone ever wrote to us, nor to rewrite the trail. Every desk of a
database must hold the *same* key: a desk with another key would hash an address differently (an
opt-out made on one desk would not be seen on the other) and could not extend the chain.

* The desk's **key file** (``settings.key_file``, 0600 in a 0700 folder) holds one key per line,
  in hex: the keys of every database this desk works on. Keys are only ever added to it, so
  installing a team's key never pushes out the key of the desk's own database. (The one-line
  ``suppression.key`` of earlier versions is such a file with one key.)
* The **database** holds the key's fingerprint (table ``desk_key``), never the key.

The first desk to use a database that has no fingerprint yet records one, holding the row's lock,
so desks that start at the same moment agree and only the winner writes a key. A new database
gets a new key. A database that already depends on a key (suppression entries or an erasure
ledger made by an earlier version) adopts the one key in the desk's key file, or gets none: it is
never given a new key that would silently stop matching every entry.

A desk that does not hold the recorded key is refused (:class:`~helpdesk.errors.KeyMissing`)
with the procedure: ``helpdesk key export FILE`` on a desk that has it, ``helpdesk key import
FILE`` on this one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import secrets
import stat
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, select

from helpdesk import files
from helpdesk.db.engine import Database
from helpdesk.db.models import DeskKey, Erasure, SuppressionEntry
from helpdesk.domain import Role
from helpdesk.errors import Forbidden, Invalid, KeyMissing
from helpdesk.services import audit

if TYPE_CHECKING:
    from helpdesk.services.context import Desk

KEY_BYTES = 32
_FINGERPRINT_LABEL = b"helpdesk database key fingerprint v1"
_SEAL_LABEL = b"helpdesk key record v1\0"

#: Fingerprint recorded in each opened database (it never changes once recorded).
_recorded_cache: weakref.WeakKeyDictionary[Database, str] = weakref.WeakKeyDictionary()
#: Parsed key files, by path, with the file's (inode, mtime, size) when read.
_rings: dict[Path, tuple[tuple[int, int, int], dict[str, bytes]]] = {}


def fingerprint(key: bytes) -> str:
    """A name for the key that reveals nothing about it (an HMAC of a fixed label)."""
    return hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def short(fp: str) -> str:
    """The first 64 bits of a fingerprint, grouped for reading aloud: ``3f2a-91bc-0d4e-77a1``."""
    return "-".join(fp[i:i + 4] for i in range(0, 16, 4))


def seal(key: bytes, row: DeskKey) -> str:
    """Binds the fingerprint to the unkeyed part of the chain, so only a key holder can move it."""
    text = f"{row.fingerprint}|{row.legacy_count}|{row.legacy_head or ''}"
    return hmac.new(key, _SEAL_LABEL + text.encode(), hashlib.sha256).hexdigest()


# --- the key file -----------------------------------------------------------------------------


def _path(desk: Desk) -> Path:
    return desk.settings.key_file.expanduser().absolute()


def _parse(text: str, where: str) -> list[bytes]:
    """Keys in a key file's text: one hex key a line; blank lines and '#' comments skipped."""
    found = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = bytes.fromhex(line)
        except ValueError:
            key = b""
        if len(key) < 16:
            raise ValueError(f"{where} line {n} is not a key")
        found.append(key)
    return found


def _read_private(path: Path) -> str:
    """A key file's text, refusing symlinks (never follow a link planted in the key's place)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="ascii", errors="replace") as fh:
        return fh.read()


def _ring(path: Path) -> dict[str, bytes]:
    """The keys this desk holds, by fingerprint (re-read when the file changes)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return {}
    if not stat.S_ISREG(st.st_mode):
        raise KeyMissing(f"the key file {path} is not a regular file (a link?); put the key "
                         "there with 'helpdesk key import FILE'")
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _rings.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        keys = {fingerprint(k): k for k in _parse(_read_private(path), f"key file {path}")}
    except (OSError, ValueError) as exc:
        raise KeyMissing(f"the key file cannot be used ({exc}); restore it from your key "
                         "backup with 'helpdesk key import FILE'") from None
    _rings[path] = (stamp, keys)
    return keys


@contextmanager
def _ring_lock(path: Path) -> Iterator[None]:
    """Exclusive use of the key file's folder (made or tightened to 0700) while a key is added."""
    files.private_dir(path.parent)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _add_to_ring(path: Path, key: bytes) -> None:
    """Append ``key`` to the key file (created 0600), durably; the caller holds the lock."""
    if fingerprint(key) in _ring(path):
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, files.FILE_MODE)
    files.tighten(path, files.FILE_MODE)  # a key file an earlier version left readable
    with os.fdopen(fd, "r+", encoding="ascii") as fh:
        text = fh.read()
        # the key file of earlier versions has no final newline
        fh.write(("\n" if text and not text.endswith("\n") else "") + key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# --- the database's record --------------------------------------------------------------------


def _recorded(desk: Desk) -> str | None:
    """The fingerprint recorded in the database, or None while none is."""
    cached = _recorded_cache.get(desk.db)
    if cached is not None:
        return cached
    with desk.db.engine.connect() as conn:
        # the table's column, not the model's: an ORM statement would configure every mapper
        # here, on the desk's start path, instead of in the first query that needs them
        row = conn.execute(sa.select(DeskKey.__table__.c.fingerprint)).first()  # type: ignore[attr-defined]
    if row is None:
        raise KeyMissing("this database has no key record (table desk_key is empty): it was "
                         "removed by hand; restore the database from a backup")
    if row.fingerprint:
        _recorded_cache[desk.db] = row.fingerprint
    return row.fingerprint


def _depends_on_a_key(s: Session) -> bool:
    """Whether hashes made with some key are stored already (so a new key would not match)."""
    return any(s.exec(select(table.id).limit(1)).first() is not None  # type: ignore[attr-defined]
               for table in (SuppressionEntry, Erasure))


def prepare(desk: Desk) -> None:
    """Make sure the database has a key once a desk opens it (see the module notes).

    Never refuses: a desk that cannot get the key is refused when it first needs it. In team
    mode only the owner's desk may record the key (agents may not write ``desk_key``); the
    owner's desk records it when it creates or upgrades the database.
    """
    if _recorded(desk) is None:
        with contextlib.suppress(Forbidden):
            _settle(desk)


def _settle(desk: Desk, chosen: bytes | None = None) -> None:
    """Record a key for a database that has none: ``chosen``, or what :func:`_choose` picks."""
    path = _path(desk)
    with desk.db.session(patient=True) as s:
        # the row lock makes desks that start together wait for the first one's decision
        row = s.exec(select(DeskKey).with_for_update()).first()
        if row is None or row.fingerprint:
            return
        key = chosen if chosen is not None else _choose(s, _ring(path))
        if key is None:
            return
        with _ring_lock(path):
            _add_to_ring(path, key)  # before the database commits: the key is never lost
        row.fingerprint = fingerprint(key)
        row.recorded_at = desk.now()
        row.seal = seal(key, row)
        s.add(row)


def _choose(s: Session, ring: dict[str, bytes]) -> bytes | None:
    if not _depends_on_a_key(s):
        return secrets.token_bytes(KEY_BYTES)  # a new database: a key of its own
    if len(ring) == 1:
        return next(iter(ring.values()))  # upgraded: the key the earlier version made
    return None  # no key, or several to choose from: someone must say which (key import)


def database_key(desk: Desk) -> bytes:
    """The database's key, from this desk's key file; :class:`KeyMissing` when it is not there."""
    path = _path(desk)
    recorded = _recorded(desk)
    ring = _ring(path)
    if recorded is None:
        raise KeyMissing(
            "no key is recorded for this database yet and this desk could not record one: if "
            "it has a suppression list, run 'helpdesk key import FILE' with the key file of "
            "the desk that made it (earlier versions kept it as suppression.key in the desk's "
            "data folder); a team database's owner records it by running 'helpdesk db upgrade'"
        )
    key = ring.get(recorded)
    if key is None:
        raise KeyMissing(
            f"this desk does not hold the database's key (fingerprint {short(recorded)}); a "
            "supervisor on a desk that has it runs 'helpdesk key export FILE', then run "
            f"'helpdesk key import FILE' here (this desk's key file: {path})"
        )
    return key


# --- status, export, import -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyStatus:
    fingerprint: str | None  # short form of the database's key; None while none is recorded
    held: bool  # whether this desk's key file has it
    key_file: str
    recorded_at: datetime | None
    problem: str | None  # why this desk cannot use the key, when it cannot


def status(desk: Desk) -> KeyStatus:
    """What the database and this desk say about the key. Needs no agent account."""
    recorded = _recorded(desk)
    with desk.db.session() as s:
        row = s.exec(select(DeskKey)).first()
    problem = None
    try:
        database_key(desk)
    except KeyMissing as exc:
        problem = exc.message
    return KeyStatus(fingerprint=short(recorded) if recorded else None, held=problem is None,
                     key_file=str(_path(desk)), recorded_at=row.recorded_at if row else None,
                     problem=problem)


def _header(fp: str) -> str:
    return (f"# helpdesk database key, fingerprint {short(fp)}\n"
            "# Anyone holding this key can test addresses against the suppression list and\n"
            "# rewrite the audit chain: keep it apart from database backups, as carefully.\n")


def export(desk: Desk, *, target: Path) -> KeyStatus:
    """Write the database's key to a new file (0600) for a new desk or for safe keeping.

    Supervisors only, and recorded: the key is what makes the hashes and the chain worth
    anything.
    """
    key = database_key(desk)
    target = target.expanduser()
    files.check_target(target, field="path")  # never over a file, never through a link
    fp = fingerprint(key)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        audit.record(s, desk, actor, "key.export", "desk_key", 1, fingerprint=short(fp))
    files.write_private(target, _header(fp) + key.hex() + "\n")
    return status(desk)


def import_key(desk: Desk, *, source: Path) -> KeyStatus:
    """Install the database's key from a file made by :func:`export` (or an old key file).

    Only the key whose fingerprint the database records is taken; while the database records
    none (an upgraded database this desk could not settle by itself), the file's one key
    becomes the database's key.
    """
    source = source.expanduser()
    try:
        offered = _parse(source.read_text(encoding="ascii"), str(source))
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}",
                      field="path") from None
    except ValueError as exc:
        raise Invalid(f"{source} holds no key ({exc})", field="path") from None
    if not offered:
        raise Invalid(f"{source} holds no key", field="path")
    recorded = _recorded(desk)
    if recorded is None:
        if len(offered) != 1:
            raise Invalid(f"{source} holds {len(offered)} keys and this database records none "
                          "yet: import a file with the one key its suppression list was made "
                          "with", field="path")
        _settle(desk, chosen=offered[0])
        recorded = _recorded(desk)
    match = next((k for k in offered if fingerprint(k) == recorded), None)
    if match is None:
        raise Invalid(f"{source} is not this database's key: the database records fingerprint "
                      f"{short(recorded or '')}, the file holds "
                      f"{', '.join(short(fingerprint(k)) for k in offered)}", field="path")
    path = _path(desk)
    with _ring_lock(path):
        _add_to_ring(path, match)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        audit.record(s, desk, actor, "key.import", "desk_key", 1, fingerprint=short(recorded or ""))
    return status(desk)


def give_key_record(desk: Desk, other: Database) -> None:
    """Give a copy of this database (a backup being restored) this database's key record.

    A backup made before keys existed has no fingerprint: it gets this one, sealed. A backup of
    a database with another key is refused, since its hashes would not match this key.
    """
    key = database_key(desk)
    fp = fingerprint(key)
    with other.session(write=True) as s:
        row = s.exec(select(DeskKey).with_for_update()).first()
        if row is None:
            raise Invalid("that backup has no key record; it was changed by hand")
        if row.fingerprint and row.fingerprint != fp:
            raise Invalid(f"that backup belongs to a database with another key (fingerprint "
                          f"{short(row.fingerprint)}, this database's is {short(fp)})")
        if row.fingerprint is None:
            row.fingerprint, row.recorded_at = fp, desk.now()
            row.seal = seal(key, row)
            s.add(row)
