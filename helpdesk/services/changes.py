"""What changed in the database, for screens that stay current: a feed and a watcher.

Every change a desk or the CLI makes is audited (policy P9), so the audit trail already is an
ordered log of changes: the object's type and id, and related ids in its details (ids only, never
personal data). :class:`ChangeFeed` reads the events after the last one it saw, drops the reads
(views, queries, exports) and groups the rest by kind. :class:`Watcher` wakes the feed when
another connection has committed: SQLite's ``PRAGMA data_version`` polled on a connection of its
own (a few microseconds a poll), PostgreSQL's ``LISTEN`` (audited writes ``NOTIFY``, see
:func:`announcement`). Both run on the watcher's thread; nothing here knows about screens.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from helpdesk.db.engine import Database
from helpdesk.db.models import AuditEvent, Case, Customer
from helpdesk.errors import Invalid
from helpdesk.services.context import Desk

log = logging.getLogger(__name__)

#: The PostgreSQL notification channel audited writes signal on.
CHANNEL = "helpdesk_changes"
#: Audit actions ending in one of these only read: they change nothing anyone shows.
READ_VERBS = frozenset({"view", "query", "export", "list", "answer", "preview", "run",
                        "duplicates"})
READ_ACTIONS = frozenset({"backup.create"})
#: Detail keys naming further rows an event touched, and their kind.
RELATED = {
    "customer_id": "customer",
    "previous_customer_id": "customer",
    "merged_id": "customer",
    "case_id": "case",
    "related_case_id": "case",
    "case_ids": "case",
    "item_ids": "intake_item",
}
#: Events read at once; a burst beyond this (a large import) is reported as "some of each kind".
BATCH = 2000
#: Kinds whose rows carry a version (see :func:`versions`).
_VERSIONED: dict[str, Any] = {"case": Case, "customer": Customer}


@dataclass(frozen=True, slots=True)
class Change:
    """Rows of ``kind`` (an audit object type) changed; empty ``ids``: some, unknown which."""

    kind: str
    ids: frozenset[int]


def announcement() -> sa.ColumnElement[Any]:
    """The expression that signals listeners on PostgreSQL (``NOTIFY``, as a function, to be
    selected beside other work); delivered when (and only if) the transaction commits."""
    return sa.func.pg_notify(CHANNEL, "")


def is_read(action: str) -> bool:
    return action in READ_ACTIONS or action.rsplit(".", 1)[-1] in READ_VERBS


def _ids(value: object) -> Iterable[int]:
    if isinstance(value, bool):
        return ()
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (list, tuple)):
        return (v for v in value if isinstance(v, int) and not isinstance(v, bool))
    return ()


def group(events: Iterable[tuple[str, str, int | None, Any]], *, complete: bool = True
          ) -> list[Change]:
    """Changes from ``(action, object_type, object_id, details)`` rows, reads left out.

    ``complete=False`` (a truncated burst) keeps the kinds but forgets the ids.
    """
    found: dict[str, set[int]] = {}
    for action, object_type, object_id, details in events:
        if is_read(action):
            continue
        found.setdefault(object_type, set()).update(_ids(object_id))
        if isinstance(details, str):
            details = json.loads(details or "{}")
        for key, kind in RELATED.items():
            if isinstance(details, dict) and key in details:
                found.setdefault(kind, set()).update(_ids(details[key]))
    return [Change(kind, frozenset(ids) if complete else frozenset())
            for kind, ids in found.items()]


_EVENTS = sa.select(
    AuditEvent.__table__.c.id, AuditEvent.__table__.c.action,
    AuditEvent.__table__.c.object_type, AuditEvent.__table__.c.object_id,
    AuditEvent.__table__.c.details,
)
_LAST = sa.select(sa.func.max(AuditEvent.__table__.c.id))


class ChangeFeed:
    """Changes since the previous :meth:`read`; safe to call from several threads."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._last: int | None = None

    def start(self) -> None:
        """Changes before this moment are not reported."""
        with self._lock:
            if self._last is None:
                self._last = self._max_id()

    def _max_id(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.execute(_LAST).scalar() or 0)

    def read(self) -> list[Change]:
        with self._lock:
            if self._last is None:
                self._last = self._max_id()
                return []
            table = AuditEvent.__table__
            with self.db.engine.connect() as conn:
                rows = conn.execute(_EVENTS.where(table.c.id > self._last)
                                    .order_by(table.c.id).limit(BATCH)).all()
                if not rows:
                    return []
                complete = len(rows) < BATCH
                self._last = rows[-1][0] if complete else int(conn.execute(_LAST).scalar() or 0)
            return group(((r[1], r[2], r[3], r[4]) for r in rows), complete=complete)


class Watcher:
    """Calls ``on_changes`` (from its own thread) soon after another connection commits.

    SQLite: ``PRAGMA data_version`` every ``interval`` seconds; PostgreSQL: ``LISTEN``, waking at
    once. Failures are logged and retried; :meth:`stop` ends the thread.
    """

    def __init__(self, feed: ChangeFeed, on_changes: Callable[[list[Change]], None], *,
                 interval: float = 1.0) -> None:
        self.feed = feed
        self.on_changes = on_changes
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="helpdesk-changes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1)

    def _run(self) -> None:
        db = self.feed.db
        while not self._stop.is_set():
            try:
                self.feed.start()
                if db.backend == "postgresql":
                    self._listen()
                elif db.sqlite_path is not None:
                    self._poll(db.sqlite_path)
                else:
                    return  # an in-memory database has no other connections to hear from
            except Exception as exc:  # keep watching; say what kind of failure, not its text
                log.warning("change watcher: %s; retrying", type(exc).__name__)
                self._stop.wait(self.interval * 5)

    def _deliver(self) -> None:
        changes = self.feed.read()
        if changes:
            self.on_changes(changes)

    def _poll(self, path: Any) -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            while not self._stop.wait(self.interval):
                now = conn.execute("PRAGMA data_version").fetchone()[0]
                if now != version:
                    version = now
                    self._deliver()
        finally:
            conn.close()

    def _listen(self) -> None:
        import psycopg

        url = self.feed.db.engine.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self._deliver()  # anything committed before LISTEN took effect
            while not self._stop.is_set():
                # Short waits so that stop() is heard quickly; a wait costs one poll(2).
                if any(True for _ in conn.notifies(timeout=min(self.interval, 0.5),
                                                   stop_after=1)):
                    self._deliver()


def versions(desk: Desk, kind: str, ids: Iterable[int]) -> dict[int, int]:
    """Current versions of some cases or customers: lets a screen skip reloading (and
    re-auditing a view of) a record it already shows as it is."""
    model = _VERSIONED.get(kind)
    if model is None:
        raise Invalid(f"no versions are kept for {kind}", field="kind")
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with desk.db.session() as s:
        desk.check_actor(s)
        rows = s.exec(select(model.id, model.version).where(col(model.id).in_(wanted))).all()
    return {int(i): int(v) for i, v in rows}
