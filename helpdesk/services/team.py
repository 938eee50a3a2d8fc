"""Team mode on PostgreSQL: one login role per agent, privileges the database enforces.

``setup`` is run once by the database owner (the role that owns the desk's tables and may
create roles). It creates the agents' and supervisors' group roles, grants the tables, installs
the guards (see :mod:`helpdesk.db.team`), seeds the shipped templates (agents may not write
them) and enrols every agent already on the desk. From then on ``agent add`` and ``agent set``
create or map each agent's login role and move it between the groups. The desk never stores a
password: agents authenticate the way PostgreSQL does (``~/.pgpass`` or ``PGPASSFILE``, peer,
certificate, GSSAPI).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from helpdesk.db import team as team_db
from helpdesk.db.models import Agent
from helpdesk.domain import Role
from helpdesk.errors import Forbidden, Invalid
from helpdesk.services import audit, desk_settings, templates
from helpdesk.services.context import Desk


@dataclass(frozen=True, slots=True)
class TeamInfo:
    database: str
    agents_group: str
    supervisors_group: str
    enrolled: tuple[str, ...]  # agents whose login role was created or mapped


def setup(desk: Desk, *, prefix: str | None = None) -> TeamInfo:
    """Put a PostgreSQL desk in team mode (idempotent: run it again to repair grants)."""
    if desk.db.backend != "postgresql":
        raise Invalid("team mode needs PostgreSQL: the embedded SQLite desk is one "
                      "workstation's, and its file is only as safe as its folder")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        conn = s.connection()
        owner = team_db.owner(conn)
        if desk.real_account != owner:
            raise Forbidden(f"team setup is run by the database owner ('{owner}'); you are "
                            f"connected as '{desk.real_account}'")
        database = str(conn.exec_driver_sql("SELECT current_database()").scalar_one())
        groups = team_db.Groups.for_prefix(prefix or database)
        team_db.create_groups(conn, groups)
        team_db.apply(conn, groups)
        templates.ensure_defaults(s, desk, actor)
        desk_settings.store(s, desk, actor, team_db.SETTING,
                            {"agents": groups.agents, "supervisors": groups.supervisors})
        enrolled = []
        for agent in s.exec(select(Agent).where(Agent.name != owner).order_by(col(Agent.id))):
            _enrol(s, agent)
            enrolled.append(agent.name)
        audit.record(s, desk, actor, "team.setup", "database", None,
                     agents_group=groups.agents, supervisors_group=groups.supervisors,
                     enrolled=len(enrolled))
    return TeamInfo(database=database, agents_group=groups.agents,
                    supervisors_group=groups.supervisors, enrolled=tuple(enrolled))


def sync_agent(session: Session, agent: Agent) -> None:
    """In team mode, give ``agent``'s login role the groups its role and active flag call
    for (creating the role when it does not exist); elsewhere nothing to do."""
    if team_db.stored_groups(session.connection()) is not None:
        _enrol(session, agent)


def _enrol(session: Session, agent: Agent) -> None:
    team_db.check_role_name(agent.name)
    team_db.enrol(session.connection(), agent.name,
                  supervisor=agent.role == Role.SUPERVISOR, active=agent.active)
