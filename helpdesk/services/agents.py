"""Agents and supervisors: who may use the desk, and with which role."""

from __future__ import annotations

from sqlmodel import func, select

from helpdesk.db.models import Agent
from helpdesk.domain import Role
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import audit, team
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import AgentInfo, IdentityInfo, agent_from
from helpdesk.services.validation import check_agent_name, clean_text


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Invalid(
            f"role must be 'agent' or 'supervisor', not '{value}'", field="role"
        ) from None


def whoami(desk: Desk) -> AgentInfo:
    """The acting agent; on an empty desk, the first person registered as its supervisor."""
    with desk.db.session() as s:  # a read, unless the desk is empty: a team opening at once
        if s.exec(select(func.count()).select_from(Agent)).one():  # does not queue to write
            return agent_from(desk.actor(s))
    with desk.db.session(patient=True) as s:
        return agent_from(desk.actor(s))


def identity(desk: Desk) -> IdentityInfo:
    """The acting agent with the account that really acts and the database's location."""
    return IdentityInfo(agent=whoami(desk), real_account=desk.real_account,
                        database=desk.db.describe())


def add(
    desk: Desk, *, name: str, role: Role | str = Role.AGENT, display_name: str | None = None
) -> AgentInfo:
    name = check_agent_name(name)
    role = _role(role)
    shown = clean_text(display_name, field="display_name") or name
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        if s.exec(select(Agent).where(Agent.name == name)).first():
            raise Conflict(f"agent '{name}' already exists")
        agent = Agent(name=name, display_name=shown, role=role)
        s.add(agent)
        s.flush()
        team.sync_agent(s, agent)  # PostgreSQL team mode: create or map the login role
        audit.record(s, desk, actor, "agent.add", "agent", agent.id, role=role.value)
        return agent_from(agent)


def list_agents(desk: Desk, *, include_inactive: bool = True) -> list[AgentInfo]:
    with desk.db.session(write=True) as s:
        desk.actor(s)
        query = select(Agent).order_by(Agent.name)
        if not include_inactive:
            query = query.where(Agent.active == True)  # noqa: E712
        return [agent_from(a) for a in s.exec(query)]


def get_by_name(desk: Desk, name: str) -> AgentInfo:
    with desk.db.session() as s:
        agent = s.exec(select(Agent).where(Agent.name == name)).first()
        if agent is None:
            raise NotFound(f"no agent named '{name}'")
        return agent_from(agent)


def update(
    desk: Desk,
    *,
    name: str,
    role: Role | str | None = None,
    active: bool | None = None,
    expected_version: int | None = None,
) -> AgentInfo:
    """Change an agent's role or active flag (supervisors only; nobody demotes themselves)."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        agent = s.exec(select(Agent).where(Agent.name == name).with_for_update()
                       .execution_options(populate_existing=True)).first()
        if agent is None:
            raise NotFound(f"no agent named '{name}'")
        if expected_version is not None and agent.version != expected_version:
            raise Conflict(f"agent '{name}' was changed by someone else; reload and try again")
        if agent.id == actor.id and (active is False or (role and _role(role) != Role.SUPERVISOR)):
            raise Invalid("you cannot deactivate or demote yourself; ask another supervisor")
        changes: dict[str, str] = {}
        if role is not None and _role(role) != agent.role:
            agent.role = _role(role)
            changes["role"] = agent.role
        if active is not None and active != agent.active:
            agent.active = active
            changes["active"] = str(active).lower()
        if changes:
            s.add(agent)
            s.flush()
            team.sync_agent(s, agent)
            audit.record(s, desk, actor, "agent.update", "agent", agent.id, **changes)
        return agent_from(agent)
