"""Upgrading a database written before keys were per database: the key the desk already had is
adopted (never a new one while hashes depend on the old), and the unkeyed trail stays checkable."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.config import Settings
from helpdesk.db import migrate
from helpdesk.db.engine import create_db_engine, open_database
from helpdesk.errors import KeyMissing
from helpdesk.services import audit_query, consent, customers, keys
from helpdesk.services.context import Desk
from tests.conftest import FakeClock

OPTED_OUT = "gone.for.good@example.org"  # opted out on the old version, then erased: hash only
LAST_PRE_KEY_REVISION = "0013"


@pytest.fixture
def old_url(db_url: str, tmp_path: Path) -> str:
    """A database at the last revision before database keys, as that version left it."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        url = db_url
        engine = create_db_engine(db_url)
        with engine.begin() as conn:  # the template copy is migrated: wipe it back to nothing
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    engine = create_db_engine(url)
    migrate.upgrade(engine, LAST_PRE_KEY_REVISION)
    engine.dispose()
    return url


def _old_hash(prev: str, at: datetime, actor: int | None, action: str, object_type: str,
              object_id: int | None, details: dict[str, object]) -> str:
    """The unkeyed chain of the earlier version, as it wrote it."""
    canonical = json.dumps([at.isoformat(timespec="microseconds"), actor, action, object_type,
                            object_id, details], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=True, default=str)
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


def _write_old_version_data(url: str, key: bytes) -> list[str]:
    """An agent, a suppression entry hashed with ``key``, and a short unkeyed trail."""
    engine = create_db_engine(url)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    hashes = []
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO agent (id, name, display_name, role, active, created_at, version) "
            "VALUES (1, 'alice', 'alice', 'supervisor', true, :t, 1)"), {"t": start})
        digest = hmac.new(key, OPTED_OUT.encode(), hashlib.sha256).hexdigest()
        conn.execute(sa.text(
            "INSERT INTO suppression_entry (email_hash, channel, reason, source, created_at) "
            "VALUES (:h, 'email', 'opt_out', 'cli', :t)"), {"h": digest, "t": start})
        prev = "0" * 64
        for n, (action, details) in enumerate([("agent.bootstrap", {}),
                                               ("consent.bulk_opt_out", {"hashed": 1}),
                                               ("audit.query", {"agent_filter": None})]):
            at = start + timedelta(minutes=n)
            h = _old_hash(prev, at, 1, action, "desk", None, details)
            conn.execute(sa.text(
                "INSERT INTO audit_event (at, actor_id, action, object_type, object_id, "
                "details, prev_hash, hash) VALUES (:at, 1, :a, 'desk', NULL, :d, :p, :h)"),
                {"at": at if url.startswith("postgresql") else at.replace(tzinfo=None),
                 "a": action, "d": json.dumps(details), "p": prev, "h": h})
            hashes.append(h)
            prev = h
    engine.dispose()
    return hashes


def _old_key_file(path: Path, key: bytes) -> None:
    """The earlier version's key file: one line of hex, no newline, 0600."""
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text(key.hex())
    path.chmod(0o600)


OpenDesk = Callable[[str, Path], Desk]


@pytest.fixture
def desk_on(clock: FakeClock) -> Iterator[OpenDesk]:
    opened = []

    def make(url: str, key_file: Path) -> Desk:
        db = open_database(url)  # upgrades
        opened.append(db)
        return Desk(db=db, settings=Settings(db_url=url, timezone="UTC", key_file=key_file),
                    actor_name="alice", clock=clock)

    yield make
    for db in opened:
        db.dispose()


def test_upgrade_adopts_the_key_the_desk_already_had(old_url: str, tmp_path: Path,
                                                    desk_on: OpenDesk,
                                                    _sqlite_template: Path) -> None:
    key = secrets.token_bytes(32)
    old_heads = _write_old_version_data(old_url, key)
    key_file = tmp_path / "home" / "data" / "suppression.key"
    _old_key_file(key_file, key)
    desk = desk_on(old_url, key_file)
    assert keys.status(desk).fingerprint == keys.short(keys.fingerprint(key))
    # the opt-out made on the old version still counts for a person who writes again
    back = customers.create(desk, name="Back Again", emails=[OPTED_OUT])
    assert not consent.status(desk, customer_id=back.id).marketing_allowed
    result = audit_query.verify(desk, anchors=[old_heads[-1]])  # a head noted before upgrading
    assert result.ok and result.legacy == 3 and result.checked > 3
    # the same key file takes the key of another database, keeping the old one first
    other = tmp_path / "other.sqlite3"
    shutil.copyfile(_sqlite_template, other)
    second = desk_on(f"sqlite:///{other}", key_file)
    assert keys.status(second).held
    assert key_file.read_text().splitlines()[0] == key.hex()
    assert audit_query.verify(desk).ok and audit_query.verify(second).ok


def test_upgrade_without_the_old_key_refuses_and_makes_none(old_url: str, tmp_path: Path,
                                                           desk_on: OpenDesk) -> None:
    key = secrets.token_bytes(32)
    _write_old_version_data(old_url, key)
    key_file = tmp_path / "new-home" / "data" / "suppression.key"
    desk = desk_on(old_url, key_file)
    with pytest.raises(KeyMissing, match="helpdesk key import"):
        customers.create(desk, name="Back Again", emails=[OPTED_OUT])
    assert not key_file.exists()
    assert keys.status(desk).fingerprint is None
    _old_key_file(tmp_path / "usb" / "suppression.key", key)
    saved = tmp_path / "usb" / "suppression.key"
    keys.import_key(desk, source=saved)
    back = customers.create(desk, name="Back Again", emails=[OPTED_OUT])
    assert not consent.status(desk, customer_id=back.id).marketing_allowed
    assert audit_query.verify(desk).ok


def test_rewriting_the_unkeyed_events_after_the_upgrade_shows(old_url: str, tmp_path: Path,
                                                            desk_on: OpenDesk) -> None:
    key = secrets.token_bytes(32)
    _write_old_version_data(old_url, key)
    key_file = tmp_path / "home" / "data" / "suppression.key"
    _old_key_file(key_file, key)
    desk = desk_on(old_url, key_file)
    customers.create(desk, name="Someone New", emails=["new@example.com"])
    engine = create_db_engine(old_url)
    with engine.begin() as conn:  # edit an old event and recompute the old chain after it
        rows = conn.execute(sa.text(
            "SELECT id, at, actor_id, action, object_type, object_id, details, prev_hash "
            "FROM audit_event WHERE seq <= 3 ORDER BY seq")).all()
        prev = rows[0].prev_hash
        for row in rows:
            action = "agent.add" if row.id == rows[1].id else row.action
            at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
            at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
            details = row.details if isinstance(row.details, dict) else json.loads(row.details)
            h = _old_hash(prev, at, row.actor_id, action, row.object_type,
                          row.object_id, details)
            conn.execute(sa.text("UPDATE audit_event SET action = :a, prev_hash = :p, "
                                 "hash = :h WHERE id = :id"),
                         {"a": action, "p": prev, "h": h, "id": row.id})
            prev = h
    engine.dispose()
    result = audit_query.verify(desk)
    assert not result.ok and result.position == 3
    assert "before the chain was keyed" in (result.reason or "")
