"""One secret key per database: every desk of a team holds the same key, a desk without it is
refused, and no desk ever makes a new key while something depends on the old one."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.errors import Invalid, KeyMissing
from helpdesk.services import agents, audit_query, consent, customers, keys, suppression
from helpdesk.services.context import Desk
from tests.conftest import FakeClock

ADDRESS = "Pat.Quinn@Example.com"


def _key_file(home: Path) -> Path:
    """Where a desk whose HELPDESK_HOME is ``home`` keeps its key (the default location)."""
    return home / "data" / "suppression.key"


@pytest.fixture
def open_desk(db_url: str, clock: FakeClock) -> Iterator[Callable[..., Desk]]:
    """``open_desk(home, name)``: a desk with its own home (its own key file) on the database."""
    opened = []

    def make(home: Path, name: str = "alice") -> Desk:
        db = open_database(db_url)
        opened.append(db)
        return Desk(db=db, settings=Settings(db_url=db_url, timezone="UTC",
                                             key_file=_key_file(home)),
                    actor_name=name, clock=clock)

    yield make
    for db in opened:
        db.dispose()


@pytest.fixture
def team(open_desk: Callable[..., Desk], tmp_path: Path) -> tuple[Desk, Path]:
    """Alice's desk, first on the database (so it made the key); bob is an agent of it."""
    alice = open_desk(tmp_path / "alice")
    agents.add(alice, name="bob")
    return alice, tmp_path / "bob"


def _fingerprint_in_db(desk: Desk) -> str | None:
    with desk.db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT fingerprint FROM desk_key")).scalar_one()


def test_first_desk_makes_a_private_key_and_records_its_fingerprint(team: tuple[Desk, Path]
                                                                    ) -> None:
    alice, _ = team
    path = alice.settings.key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    recorded = _fingerprint_in_db(alice)
    assert recorded and len(recorded) == 64
    status = keys.status(alice)
    assert status.held and recorded.startswith(status.fingerprint.replace("-", ""))
    assert path.read_text().strip() not in recorded  # the database holds no key material


def test_second_desk_without_the_key_is_refused_and_makes_none(
    team: tuple[Desk, Path], open_desk: Callable[..., Desk]
) -> None:
    alice, bob_home = team
    bob = open_desk(bob_home, "bob")
    short = keys.status(alice).fingerprint
    with pytest.raises(KeyMissing) as refused:
        customers.create(bob, name="Pat Quinn", emails=[ADDRESS])
    message = refused.value.message
    assert short in message and "helpdesk key export" in message
    assert "helpdesk key import" in message
    with pytest.raises(KeyMissing):
        suppression.email_hash(bob, "pat.quinn@example.com")
    with pytest.raises(KeyMissing):
        audit_query.verify(bob)
    assert not _key_file(bob_home).exists(), "a desk without the key made one of its own"
    assert not keys.status(bob).held
    with bob.db.engine.connect() as conn:  # nothing of bob's refused work was stored
        assert conn.execute(sa.text("SELECT count(*) FROM customer")).scalar_one() == 0


def test_an_opt_out_on_one_desk_is_honoured_on_the_other(
    team: tuple[Desk, Path], open_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    alice, bob_home = team
    consent.bulk_opt_out(alice, addresses=[ADDRESS])  # a person alice's desk never stored
    handover = tmp_path / "usb" / "desk.key"
    handover.parent.mkdir()
    keys.export(alice, target=handover)
    assert stat.S_IMODE(handover.stat().st_mode) == 0o600
    bob = open_desk(bob_home, "bob")
    keys.import_key(bob, source=handover)
    assert keys.status(bob).held
    pat = customers.create(bob, name="Pat Quinn", emails=["pat.quinn@EXAMPLE.com"])
    status = consent.status(bob, customer_id=pat.id)
    assert not status.marketing_allowed and status.suppressed_addresses == 1
    assert audit_query.verify(bob).ok and audit_query.verify(alice).ok


def test_a_desk_with_another_key_is_refused_with_the_procedure(
    team: tuple[Desk, Path], open_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    alice, bob_home = team
    # bob's desk once made a key of its own (another database, or before the upgrade)
    _key_file(bob_home).parent.mkdir(parents=True, mode=0o700)
    _key_file(bob_home).write_bytes(b"00" * 32 + b"\n")
    os.chmod(_key_file(bob_home), 0o600)
    before = _key_file(bob_home).read_bytes()
    bob = open_desk(bob_home, "bob")
    with pytest.raises(KeyMissing, match="helpdesk key import") as refused:
        consent.bulk_opt_out(bob, addresses=["someone@example.org"])
    assert keys.status(alice).fingerprint in refused.value.message
    assert _key_file(bob_home).read_bytes() == before


def test_losing_the_key_file_never_makes_a_new_one(
    team: tuple[Desk, Path], open_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    alice, _ = team
    consent.bulk_opt_out(alice, addresses=[ADDRESS])
    keys.export(alice, target=tmp_path / "safe.key")
    recorded = _fingerprint_in_db(alice)
    alice.settings.key_file.unlink()
    with pytest.raises(KeyMissing, match="helpdesk key import"):
        customers.create(alice, name="Pat Quinn", emails=[ADDRESS])
    again = open_desk(tmp_path / "alice")  # reopening does not "repair" it either
    with pytest.raises(KeyMissing):
        consent.bulk_opt_out(again, addresses=["someone.else@example.org"])
    assert not alice.settings.key_file.exists()
    assert _fingerprint_in_db(alice) == recorded
    keys.import_key(again, source=tmp_path / "safe.key")
    pat = customers.create(again, name="Pat Quinn", emails=[ADDRESS])
    assert not consent.status(again, customer_id=pat.id).marketing_allowed


def test_importing_a_key_that_is_not_the_databases_is_refused(
    team: tuple[Desk, Path], open_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    _, bob_home = team
    stranger = tmp_path / "stranger.key"
    stranger.write_text("ab" * 32 + "\n")
    bob = open_desk(bob_home, "bob")
    with pytest.raises(Invalid, match="not this database's key"):
        keys.import_key(bob, source=stranger)
    assert not _key_file(bob_home).exists()
    damaged = tmp_path / "damaged.key"
    damaged.write_text("not a key\n")
    with pytest.raises(Invalid, match="no key"):
        keys.import_key(bob, source=damaged)


def test_export_refuses_an_existing_file_a_link_and_agents(team: tuple[Desk, Path],
                                                          tmp_path: Path) -> None:
    from helpdesk.errors import Conflict, Forbidden

    alice, _ = team
    target = tmp_path / "exists.key"
    target.write_text("keep me")
    with pytest.raises(Conflict, match="already exists"):
        keys.export(alice, target=target)
    assert target.read_text() == "keep me"
    planted = tmp_path / "planted.key"
    planted.symlink_to(tmp_path / "somewhere-else.key")
    with pytest.raises(Invalid, match="symbolic link"):
        keys.export(alice, target=planted)
    assert not (tmp_path / "somewhere-else.key").exists()
    with pytest.raises(Forbidden):
        keys.export(alice.as_agent("bob"), target=tmp_path / "bob.key")


def test_a_key_file_holds_the_keys_of_several_databases(
    team: tuple[Desk, Path], tmp_path: Path, clock: FakeClock, _sqlite_template: Path
) -> None:
    """Importing the team's key never pushes out the key of the desk's own other database."""
    import shutil

    alice, _ = team
    own = tmp_path / "own.sqlite3"
    shutil.copyfile(_sqlite_template, own)
    db = open_database(f"sqlite:///{own}")
    try:
        home = tmp_path / "carol"
        mine = Desk(db=db, settings=Settings(db_url=f"sqlite:///{own}", timezone="UTC",
                                             key_file=_key_file(home)),
                    actor_name="carol", clock=clock)
        consent.bulk_opt_out(mine, addresses=["x@example.com"])
        keys.export(alice, target=tmp_path / "team.key")
        team_db = open_database(alice.settings.db_url)
        try:
            carol = Desk(db=team_db, settings=mine.settings, actor_name="alice", clock=clock)
            keys.import_key(carol, source=tmp_path / "team.key")
            assert keys.status(carol).held and keys.status(mine).held
            assert keys.status(carol).fingerprint != keys.status(mine).fingerprint
            assert audit_query.verify(mine).ok and audit_query.verify(carol).ok
        finally:
            team_db.dispose()
    finally:
        db.dispose()


def _race_script(url: str, home: Path) -> str:
    return textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from helpdesk.config import Settings
        from helpdesk.db.engine import open_database
        from helpdesk.errors import KeyMissing
        from helpdesk.services import keys
        from helpdesk.services.context import Desk
        sys.stdin.readline()  # all start together
        desk = Desk(db=open_database({url!r}), actor_name="alice",
                    settings=Settings(db_url={url!r}, timezone="UTC",
                                      key_file=Path({str(_key_file(home))!r})))
        print("held" if keys.status(desk).held else "refused", flush=True)
    """)


@pytest.mark.parametrize("trial", range(2))
def test_desks_opening_a_new_database_at_once_agree_on_one_key(
    db_url: str, tmp_path: Path, trial: int
) -> None:
    homes = [tmp_path / f"desk{i}" for i in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", _race_script(db_url, h)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for h in homes]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outcomes = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outcomes.append(out.strip())
    assert sorted(outcomes) == ["held", "refused", "refused"]
    winner = homes[outcomes.index("held")]
    assert [h for h in homes if _key_file(h).exists()] == [winner], \
        "a desk that lost the race kept a key the database does not use"
