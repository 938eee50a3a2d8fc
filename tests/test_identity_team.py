"""Team mode on PostgreSQL: each agent signs in as their own role, and the database itself
refuses what only supervisors may do, even to someone who connects with psql."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.config import Settings
from helpdesk.db.engine import normalize_url, open_database
from helpdesk.errors import Forbidden
from helpdesk.services import (
    agents,
    cases,
    consent,
    customers,
    desk_settings,
    erasure,
    team,
    verification,
)
from helpdesk.services.context import Desk, open_desk
from tests.conftest import PG_URL, _pg_admin, drop_test_database

pytestmark = pytest.mark.postgres

if not PG_URL:
    pytest.skip("HELPDESK_TEST_PG_URL is not set: PostgreSQL tests need a server",
                allow_module_level=True)


@dataclass
class Team:
    database: str
    owner: Desk
    ann: str  # an agent's login role
    sue: str  # a supervisor's login role
    groups: team.TeamInfo
    settings: Callable[[str], Settings]

    def url(self, role: str) -> str:
        """The URL an agent's desk is given: no password in it."""
        base = normalize_url(PG_URL or "")
        return sa.engine.URL.create(base.drivername, username=role, host=base.host,
                                    port=base.port, database=self.database
                                    ).render_as_string(hide_password=False)

    def desk(self, role: str) -> Desk:
        return open_desk(self.settings(role))

    def connect(self, role: str) -> sa.Engine:
        return sa.create_engine(normalize_url(self.url(role)), poolclass=sa.pool.NullPool)


@pytest.fixture
def team_db(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    """A team database: set up by its owner (CI's role), with agent ann and supervisor sue
    whose passwords sit in a PGPASSFILE, as libpq expects them; roles are dropped after."""
    template = request.getfixturevalue("_pg_template")
    admin = _pg_admin()
    tag = uuid.uuid4().hex[:8]
    database = f"helpdesk_t_{tag}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    owner_url = normalize_url(PG_URL or "").set(database=database)
    key = tmp_path / "key"
    owner = Desk(db=open_database(owner_url), settings=Settings(
        db_url=owner_url.render_as_string(hide_password=False), timezone="UTC", key_file=key))
    agents.whoami(owner)  # the owner is the first supervisor
    info = team.setup(owner, prefix=f"ht_{tag}")
    ann, sue = f"ht_{tag}_ann", f"ht_{tag}_sue"
    agents.add(owner, name=ann)
    agents.add(owner, name=sue, role="supervisor")
    url = normalize_url(PG_URL or "")
    lines = []
    with admin.connect() as conn:
        for role in (ann, sue):
            password = uuid.uuid4().hex
            conn.exec_driver_sql(f"ALTER ROLE \"{role}\" PASSWORD '{password}'")
            lines.append(f"{url.host}:{url.port or 5432}:{database}:{role}:{password}")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("\n".join(lines) + "\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path / "home"))

    def settings(role: str) -> Settings:
        return Settings(db_url=t.url(role), timezone="UTC", key_file=key)

    t = Team(database=database, owner=owner, ann=ann, sue=sue, groups=info, settings=settings)
    yield t
    owner.db.dispose()
    if drop_test_database(admin, database):
        with admin.connect() as conn:
            roles = conn.exec_driver_sql(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %(p)s", {"p": f"ht_{tag}_%"}
            ).scalars().all()
            for role in roles:
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    else:
        warnings.warn(f"roles ht_{tag}_* left behind: their database is still in use",
                      stacklevel=1)
    admin.dispose()


def _refused(engine: sa.Engine, sql: str, params: dict[str, object] | None = None) -> str:
    """Run ``sql`` in its own transaction and return the database's refusal."""
    with pytest.raises(sa.exc.DBAPIError) as caught, engine.begin() as conn:
        conn.execute(sa.text(sql), params or {})
    assert getattr(caught.value.orig, "sqlstate", None) == "42501", caught.value
    return str(caught.value.orig)


def test_each_agent_signs_in_as_their_own_role_without_a_stored_password(
    team_db: Team,
) -> None:
    assert sa.engine.make_url(team_db.url(team_db.ann)).password is None
    ann = team_db.desk(team_db.ann)
    try:
        who = agents.identity(ann)
        assert (who.agent.name, who.agent.role, who.real_account) == (
            team_db.ann, "agent", team_db.ann)
        assert "password" not in who.database and team_db.database in who.database
        # a day's work runs under the agent's grants
        c = customers.create(ann, name="Ann Customer", emails=["ac@example.com"])
        case = cases.create(ann, kind="question", customer_id=c.id, assign_to_me=True)
        cases.add_note(ann, case_id=case.case.id, body="called back")
        cases.set_status(ann, case_id=case.case.id, status="open")
        assert not consent.opt_out(ann, customer_id=c.id).marketing_allowed
        assert customers.find(ann, "Ann Cust")[0].id == c.id
        gone = customers.create(ann, name="Gone Soon", emails=["gone@example.com"])
        request = cases.create(ann, kind="deletion", customer_id=gone.id)
        verification.verify(ann, case_id=request.case.id, method="identity_document")
        assert erasure.erase(ann, customer_id=gone.id, case_id=request.case.id).status in {
            "complete", "partial"}
        assert customers.get(ann, gone.id).erased_at is not None
        with pytest.raises(Forbidden):  # and the service says no before the database must
            agents.add(ann, name=f"{team_db.ann}x")
    finally:
        ann.db.dispose()


def test_agent_add_creates_the_login_role_and_role_changes_move_it(team_db: Team) -> None:
    sue = team_db.desk(team_db.sue)
    try:
        new = f"{team_db.ann[:-4]}_neo"
        agents.add(sue, name=new)
        with team_db.owner.db.engine.connect() as conn:
            def groups_of(role: str) -> set[str]:
                return set(conn.exec_driver_sql(
                    "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                    "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %(r)s", {"r": role}
                ).scalars())
            assert groups_of(new) == {team_db.groups.agents_group}
            agents.update(sue, name=new, role="supervisor")
            assert groups_of(new) == {team_db.groups.agents_group,
                                      team_db.groups.supervisors_group}
            agents.update(sue, name=new, active=False)
            assert groups_of(new) == set()
    finally:
        sue.db.dispose()


def test_the_database_refuses_an_agent_role_every_supervisor_only_change(
    team_db: Team,
) -> None:
    owner = team_db.owner
    c = customers.create(owner, name="Carla", emails=["carla@example.com"])
    theirs = cases.create(owner, kind="question", customer_id=c.id)
    cases.assign(owner, case_id=theirs.case.id, assignee=team_db.sue, reason="hers")
    free = cases.create(owner, kind="question", customer_id=c.id)
    consent.opt_out(owner, customer_id=c.id)
    desk_settings.set_impersonation(owner, allowed=False)
    ids = dict((a.name, a.id) for a in agents.list_agents(owner))
    ann_id, sue_id = ids[team_db.ann], ids[team_db.sue]
    engine = team_db.connect(team_db.ann)
    try:
        # someone else's case, or giving one away
        _refused(engine, "UPDATE support_case SET assignee_id = :me WHERE id = :c",
                 {"me": ann_id, "c": theirs.case.id})
        _refused(engine, "UPDATE support_case SET assignee_id = NULL WHERE id = :c",
                 {"c": theirs.case.id})
        _refused(engine, "UPDATE support_case SET assignee_id = :s WHERE id = :c",
                 {"s": sue_id, "c": free.case.id})
        # the suppression list: not readable (membership only, through a function)
        _refused(engine, "SELECT email_hash FROM suppression_entry")
        # templates
        _refused(engine, "UPDATE reply_template SET body = 'pay us'")
        _refused(engine, "DELETE FROM reply_template")
        _refused(engine, "INSERT INTO reply_template (name, language, subject, body, "
                 "transactional, updated_at, version) VALUES ('x', 'en', 's', 'b', true, "
                 "now(), 1)")
        # roles
        _refused(engine, "UPDATE agent SET role = 'supervisor' WHERE id = :me", {"me": ann_id})
        _refused(engine, "INSERT INTO agent (name, display_name, role, active, created_at, "
                 "version) VALUES ('mallory', 'm', 'supervisor', true, now(), 1)")
        _refused(engine, "SELECT helpdesk_team_enrol(:n, true, true)", {"n": team_db.ann})
        _refused(engine, f'GRANT "{team_db.groups.supervisors_group}" TO "{team_db.ann}"')
        _refused(engine, "UPDATE desk_setting SET value = 'true'")
        # the audit trail: append-only
        _refused(engine, "UPDATE audit_event SET action = 'customer.view'")
        _refused(engine, "DELETE FROM audit_event")
        _refused(engine, "TRUNCATE audit_event")
        # what agents may do still works, and the account column is the database's
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE support_case SET assignee_id = :me WHERE id = :c"),
                         {"me": ann_id, "c": free.case.id})
            conn.execute(sa.text(
                "INSERT INTO audit_event (at, action, object_type, details, prev_hash, hash, "
                "real_account) VALUES (now(), 'x', 'y', '{}', 'p', 'h-ann', :who)"),
                {"who": team_db.sue})
            assert conn.execute(sa.text(
                "SELECT real_account FROM audit_event WHERE hash = 'h-ann'")).scalar_one() \
                == team_db.ann
    finally:
        engine.dispose()
    sup = team_db.connect(team_db.sue)
    try:  # supervisors may reassign and edit templates, but not rewrite the audit either
        with sup.begin() as conn:
            conn.execute(sa.text("UPDATE support_case SET assignee_id = :s WHERE id = :c"),
                         {"s": sue_id, "c": free.case.id})
            conn.execute(sa.text("UPDATE reply_template SET body = body"))
        _refused(sup, "UPDATE audit_event SET action = 'customer.view'")
        _refused(sup, "DELETE FROM audit_event")
    finally:
        sup.dispose()
    with owner.db.engine.begin() as conn:  # its owner is the one exception
        conn.exec_driver_sql("UPDATE audit_event SET action = action WHERE id = 1")


def test_setup_is_the_owners_and_can_run_again(team_db: Team) -> None:
    sue = team_db.desk(team_db.sue)
    try:
        with pytest.raises(Forbidden, match="database owner"):
            team.setup(sue)
    finally:
        sue.db.dispose()
    again = team.setup(team_db.owner, prefix=team_db.groups.agents_group[:-len("_agent")])
    assert set(again.enrolled) == {team_db.ann, team_db.sue}


def test_a_deactivated_agent_can_no_longer_connect(team_db: Team) -> None:
    agents.update(team_db.owner, name=team_db.ann, active=False)
    engine = team_db.connect(team_db.ann)
    try:
        with pytest.raises(sa.exc.OperationalError, match="permission denied"):
            engine.connect().close()
    finally:
        engine.dispose()


def test_only_a_supervisor_overrides_a_requesters_verification_even_with_psql(
    team_db: Team,
) -> None:
    """Verifying a requester opens their data to export and erasure. An agent may record what
    they checked, in their own name; the override is a supervisor's, and once recorded, how a
    requester was verified is not the agent's to change or remove."""
    owner = team_db.owner
    c = customers.create(owner, name="Vera", emails=["vera@example.com"])
    first = cases.create(owner, kind="deletion", customer_id=c.id).case.id
    second = cases.create(owner, kind="access", customer_id=c.id).case.id
    fresh = cases.create(owner, kind="correction", customer_id=c.id).case.id
    ids = dict((a.name, a.id) for a in agents.list_agents(owner))
    ann_id, sue_id = ids[team_db.ann], ids[team_db.sue]
    verify = ("UPDATE request_verification SET method = :m, verified_at = now(), "
              "verified_by_id = :by WHERE case_id = :c")
    with owner.db.engine.begin() as conn:  # the code the acknowledgement carried
        conn.execute(sa.text("INSERT INTO request_verification (case_id, code, code_created_at)"
                             " VALUES (:c, 'ABCDEFGH', now())"), {"c": first})
    ann = team_db.desk(team_db.ann)
    try:
        verification.verify(ann, case_id=second, method="phone_callback", note="called back")
    finally:
        ann.db.dispose()
    engine = team_db.connect(team_db.ann)
    try:
        _refused(engine, verify, {"m": "supervisor_override", "by": ann_id, "c": first})
        _refused(engine, verify, {"m": "supervisor_override", "by": sue_id, "c": first})
        _refused(engine, verify, {"m": "identity_document", "by": sue_id, "c": first})
        _refused(engine, "INSERT INTO request_verification (case_id, code, code_created_at, "
                 "method, verified_at, verified_by_id) VALUES (:c, 'ABCDEFGH', now(), "
                 "'supervisor_override', now(), :me)", {"c": fresh, "me": ann_id})
        # a recorded verification stays as it was
        _refused(engine, "UPDATE request_verification SET method = 'identity_document' "
                 "WHERE case_id = :c", {"c": second})
        _refused(engine, "UPDATE request_verification SET verified_at = NULL, method = NULL "
                 "WHERE case_id = :c", {"c": second})
        _refused(engine, "DELETE FROM request_verification WHERE case_id = :c", {"c": second})
        # what an agent may do: attest in their own name
        with engine.begin() as conn:
            conn.execute(sa.text(verify), {"m": "identity_document", "by": ann_id, "c": first})
    finally:
        engine.dispose()
    sue = team_db.desk(team_db.sue)
    try:
        third = cases.create(sue, kind="correction", customer_id=c.id).case.id
        state = verification.verify(sue, case_id=third, method="override", note="court order")
        assert state.verified and state.verified_by == team_db.sue
    finally:
        sue.db.dispose()
