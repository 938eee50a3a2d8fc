"""Audit appends do not serialise a team: a long transaction that has recorded audit events does
not hold up another desk's audited action, and the chain still verifies afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlmodel import col, select

from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.db.models import AuditEvent
from helpdesk.services import agents, audit_query
from helpdesk.services.context import Desk

#: Generous bound for a short action of another desk (it takes well under a second unblocked).
OTHER_DESK_TIMEOUT = 20


def _script(desk: Desk, body: str) -> subprocess.Popen[str]:
    prelude = f"""
        import sys
        from pathlib import Path
        from helpdesk.config import Settings
        from helpdesk.db.engine import open_database
        from helpdesk.services import audit, customers
        from helpdesk.services.context import Desk
        url = {desk.settings.db_url!r}
        desk = Desk(db=open_database(url), actor_name=sys.argv[1],
                    settings=Settings(db_url=url, timezone="UTC",
                                      key_file=Path({str(desk.settings.key_file)!r})))
    """
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(prelude) + textwrap.dedent(body), "bob"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


HOLDER = """
    with desk.db.session(write=True) as s:  # a bulk operation, part-way through
        actor = desk.actor(s)
        for n in range(3):
            audit.record(s, desk, actor, "demo.generate", "desk", None, batch=n)
        s.flush()
        print("holding", flush=True)
        sys.stdin.readline()  # ... until the test lets it finish
    print("committed", flush=True)
"""

OTHER = """
customers.create(desk, name="Walk-in Customer", emails=["walk.in@example.org"])
print("done", flush=True)
"""


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.parametrize("trial", range(2))
def test_a_long_audited_transaction_does_not_block_another_desk(
    db_url: str, tmp_path: Path, trial: int
) -> None:
    db = open_database(db_url)
    try:
        desk = Desk(db=db, actor_name="alice",
                    settings=Settings(db_url=db_url, timezone="UTC", key_file=tmp_path / "key"))
        agents.add(desk, name="bob")
        holder = _script(desk, HOLDER)
        try:
            assert holder.stdout is not None and holder.stdin is not None
            assert holder.stdout.readline().strip() == "holding", holder.stderr
            other = _script(desk, OTHER)
            try:
                out, err = other.communicate(timeout=OTHER_DESK_TIMEOUT)
            except subprocess.TimeoutExpired:
                other.kill()
                other.communicate()
                pytest.fail("another desk's audited action waited for the open transaction")
            assert other.returncode == 0 and out.strip() == "done", err
            assert holder.poll() is None, "the holder finished early: the test proved nothing"
            holder.stdin.write("go\n")
            holder.stdin.flush()
            rest, err = holder.communicate(timeout=OTHER_DESK_TIMEOUT)
            assert holder.returncode == 0 and rest.strip() == "committed", err
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.communicate()
        result = audit_query.verify(desk)
        assert result.ok, result
        with db.session() as s:
            actions = s.exec(select(AuditEvent.action).order_by(col(AuditEvent.seq))).all()
        # chain order is commit order: the other desk's action before the long transaction's
        assert actions[-4:] == ["customer.create", "demo.generate", "demo.generate",
                                "demo.generate"]
    finally:
        db.dispose()
