"""Team mode on PostgreSQL: the database itself enforces who may do what.

Each agent connects with their own login role. Two group roles carry the privileges: the agents'
group may read and write the day's work, the supervisors' group (a member of the agents' group)
may also change agents, templates, policy versions and desk settings, and read the suppression
list. The audit trail is append-only for both; only the database owner may change its rows.
Reassigning someone else's case, and overriding (or changing after the fact) how a requester
was verified, are refused by triggers for anyone not in the supervisors' group. The services
check the same rules first, so the desk explains a refusal before the database has to; the
database's refusal is what holds when someone connects with psql.

Everything here is idempotent: ``apply`` runs at ``helpdesk team setup`` and again after every
upgrade of a team database, so tables that later migrations add get their grants.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import sqlalchemy as sa

from helpdesk.errors import Invalid

#: Tables only supervisors may change (agents read them).
SUPERVISOR_WRITES = ("agent", "reply_template", "policy_version", "desk_setting")
#: Tables nobody but the owner changes from the desk's roles (``desk_key``: the key's
#: fingerprint is recorded once, by the owner's desk, and must not be reset by an agent).
READ_ONLY = ("alembic_version", "desk_key")
#: Setting (in ``desk_setting``) that records the group roles; its presence means team mode.
SETTING = "team"

_ROLE = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")


@dataclass(frozen=True, slots=True)
class Groups:
    agents: str
    supervisors: str

    @classmethod
    def for_prefix(cls, prefix: str) -> Groups:
        prefix = prefix[:50]
        groups = cls(agents=f"{prefix}_agent", supervisors=f"{prefix}_supervisor")
        check_role_name(groups.agents)
        return groups


def check_role_name(name: str) -> str:
    if not _ROLE.match(name):
        raise Invalid(
            f"'{name}' cannot be a PostgreSQL role name here: use 1-63 letters, digits, dots, "
            "dashes or underscores", field="name")
    return name


def _q(name: str) -> str:
    """A role or table name quoted as an identifier (names are checked by check_role_name)."""
    return '"' + name.replace('"', '""') + '"'


def _functions(g: Groups) -> list[str]:
    sup, agt = g.supervisors.replace("'", "''"), g.agents.replace("'", "''")
    return [
        # Supervisors add agents and change their roles; the login role is created or mapped
        # here, running as the owner (who may create roles), so no supervisor needs CREATEROLE.
        f"""
        CREATE OR REPLACE FUNCTION helpdesk_team_enrol(
            agent_name text, supervisor boolean, active boolean
        ) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        BEGIN
            IF session_user <> current_user
               AND NOT pg_has_role(session_user, '{sup}', 'MEMBER') THEN
                RAISE EXCEPTION 'only a supervisor may add agents or change their roles'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF agent_name !~ '^[A-Za-z0-9_.-]{{1,63}}$'
               OR agent_name IN ('{sup}', '{agt}') THEN
                RAISE EXCEPTION 'agent name % cannot be a login role', agent_name
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = agent_name) THEN
                EXECUTE format('CREATE ROLE %I LOGIN', agent_name);
            END IF;
            IF active THEN
                EXECUTE format('GRANT %I TO %I', '{agt}', agent_name);
            ELSE
                EXECUTE format('REVOKE %I FROM %I', '{agt}', agent_name);
            END IF;
            IF active AND supervisor THEN
                EXECUTE format('GRANT %I TO %I', '{sup}', agent_name);
            ELSE
                EXECUTE format('REVOKE %I FROM %I', '{sup}', agent_name);
            END IF;
        END $$
        """,
        # An agent may take an unassigned case or release their own; anything else that moves
        # a case between people is a supervisor's reassignment.
        f"""
        CREATE OR REPLACE FUNCTION helpdesk_case_assign_guard() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
        DECLARE me integer;
        BEGIN
            IF pg_has_role(session_user, '{sup}', 'MEMBER')
               OR NOT pg_has_role(session_user, '{agt}', 'MEMBER') THEN
                RETURN NEW;
            END IF;
            IF TG_OP = 'UPDATE' AND NEW.assignee_id IS NOT DISTINCT FROM OLD.assignee_id THEN
                RETURN NEW;
            END IF;
            SELECT id INTO me FROM agent WHERE name = session_user;
            IF TG_OP = 'INSERT' THEN
                IF NEW.assignee_id IS NULL OR NEW.assignee_id = me THEN
                    RETURN NEW;
                END IF;
            ELSIF (OLD.assignee_id IS NULL AND NEW.assignee_id = me)
                  OR (OLD.assignee_id = me AND NEW.assignee_id IS NULL) THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'only a supervisor may give a case to someone else or take one '
                'that belongs to another agent' USING ERRCODE = 'insufficient_privilege';
        END $$
        """,
        "DROP TRIGGER IF EXISTS support_case_assign_guard ON support_case",
        "CREATE TRIGGER support_case_assign_guard BEFORE INSERT OR UPDATE OF assignee_id "
        "ON support_case FOR EACH ROW EXECUTE FUNCTION helpdesk_case_assign_guard()",
        # A verified requester's data may be exported or erased: an agent records what they
        # checked in their own name; the override is a supervisor's; and once recorded, how a
        # requester was verified is not an agent's to change or remove.
        f"""
        CREATE OR REPLACE FUNCTION helpdesk_verification_guard() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
        DECLARE me integer;
        BEGIN
            IF pg_has_role(session_user, '{sup}', 'MEMBER')
               OR NOT pg_has_role(session_user, '{agt}', 'MEMBER') THEN
                RETURN COALESCE(NEW, OLD);
            END IF;
            IF TG_OP <> 'INSERT' AND OLD.verified_at IS NOT NULL THEN
                RAISE EXCEPTION 'only a supervisor may change or remove how a requester was '
                    'verified' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'DELETE' OR (NEW.verified_at IS NULL AND NEW.method IS NULL) THEN
                RETURN COALESCE(NEW, OLD);
            END IF;
            IF NEW.method = 'supervisor_override' THEN
                RAISE EXCEPTION 'only a supervisor may override the verification of a '
                    'requester' USING ERRCODE = 'insufficient_privilege';
            END IF;
            SELECT id INTO me FROM agent WHERE name = session_user;
            IF NEW.verified_by_id IS DISTINCT FROM me THEN
                RAISE EXCEPTION 'an agent records a verification in their own name only'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$
        """,
        "DROP TRIGGER IF EXISTS request_verification_guard ON request_verification",
        "CREATE TRIGGER request_verification_guard BEFORE INSERT OR UPDATE OR DELETE "
        "ON request_verification FOR EACH ROW EXECUTE FUNCTION helpdesk_verification_guard()",
    ]


def _tables(conn: sa.Connection) -> list[str]:
    return list(conn.exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).scalars())


def owner(conn: sa.Connection) -> str:
    """The role that owns the desk's tables (it ran the migrations)."""
    return str(conn.exec_driver_sql(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'agent'"
    ).scalar_one())


def create_groups(conn: sa.Connection, g: Groups) -> None:
    for name in (g.agents, g.supervisors):
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM pg_roles WHERE rolname = %(n)s", {"n": name}).first()
        if not exists:
            conn.exec_driver_sql(f"CREATE ROLE {_q(name)} NOLOGIN")
    conn.exec_driver_sql(f"GRANT {_q(g.agents)} TO {_q(g.supervisors)}")


def apply(conn: sa.Connection, g: Groups) -> None:
    """(Re)grant every table to the groups and (re)create the guards. Run by the owner."""
    agt, sup = _q(g.agents), _q(g.supervisors)
    database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
    statements = [
        f"REVOKE CONNECT, TEMPORARY ON DATABASE {_q(database)} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {_q(database)} TO {agt}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {agt}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {agt}",
        "REVOKE EXECUTE ON FUNCTION helpdesk_suppressed(text, text[]) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION helpdesk_suppressed(text, text[]) TO {agt}",
    ]
    for table in _tables(conn):
        t = _q(table)
        statements.append(f"REVOKE ALL ON {t} FROM {agt}, {sup}")
        if table == "audit_event":
            statements.append(f"GRANT SELECT, INSERT ON {t} TO {agt}")
        elif table == "suppression_entry":  # agents add; they check through a function
            statements += [f"GRANT INSERT ON {t} TO {agt}",
                           f"GRANT SELECT, UPDATE, DELETE ON {t} TO {sup}"]
        elif table in SUPERVISOR_WRITES:
            statements += [f"GRANT SELECT ON {t} TO {agt}",
                           f"GRANT INSERT, UPDATE, DELETE ON {t} TO {sup}"]
        elif table in READ_ONLY:
            statements.append(f"GRANT SELECT ON {t} TO {agt}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {agt}")
    for view in conn.exec_driver_sql(
        "SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY viewname"
    ).scalars():  # e.g. customer_search_source, read by the search triggers as the agent
        statements.append(f"GRANT SELECT ON {_q(view)} TO {agt}")
    statements += _functions(g)
    statements += [
        "REVOKE EXECUTE ON FUNCTION helpdesk_team_enrol(text, boolean, boolean) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION helpdesk_team_enrol(text, boolean, boolean) TO {sup}",
    ]
    for statement in statements:
        conn.exec_driver_sql(statement.replace("%", "%%"))  # the driver reads % as a placeholder


def stored_groups(conn: sa.Connection) -> Groups | None:
    """The groups ``team setup`` recorded, or None when this database is not in team mode."""
    if conn.dialect.name != "postgresql":
        return None
    value = conn.exec_driver_sql(
        "SELECT value FROM desk_setting WHERE name = %(n)s", {"n": SETTING}).scalar()
    if not value:
        return None
    data = value if isinstance(value, dict) else json.loads(value)
    return Groups(agents=data["agents"], supervisors=data["supervisors"])


def reapply(conn: sa.Connection) -> None:
    """After an upgrade: grant the tables a migration added, when the database is a team's."""
    groups = stored_groups(conn)
    if groups is not None:
        apply(conn, groups)


def enrol(conn: sa.Connection, name: str, *, supervisor: bool, active: bool) -> None:
    """Create or map the login role ``name`` and put it in the groups its role calls for."""
    conn.execute(sa.text("SELECT helpdesk_team_enrol(:n, :s, :a)"),
                 {"n": name, "s": supervisor, "a": active})
