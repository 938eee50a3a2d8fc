"""The desk a service call runs against: database, settings, acting agent and clock."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, func, select

from helpdesk.clock import utcnow
from helpdesk.config import Settings, load_settings
from helpdesk.db.engine import Database, open_database
from helpdesk.db.models import Agent
from helpdesk.db.search import CustomerSearch, for_dialect
from helpdesk.domain import Role
from helpdesk.errors import Forbidden


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class Desk:
    """Everything a service needs. Cheap to copy with another actor (see :meth:`as_agent`)."""

    db: Database
    settings: Settings
    actor_name: str = field(default_factory=os_user)
    clock: Callable[[], datetime] = utcnow
    search: CustomerSearch = field(init=False)

    def __post_init__(self) -> None:
        self.search = for_dialect(self.db.backend)

    def now(self) -> datetime:
        return self.clock()

    def as_agent(self, name: str) -> Desk:
        return Desk(db=self.db, settings=self.settings, actor_name=name, clock=self.clock)

    def actor(self, session: Session, *, require: Role | None = None) -> Agent:
        """The acting agent, checked: known, active and (when asked) holding ``require``.

        On an empty database the first person to act is registered as a supervisor, so a new
        install can be set up without a chicken-and-egg step.
        """
        agent = session.exec(select(Agent).where(Agent.name == self.actor_name)).first()
        if agent is None:
            if session.exec(select(func.count()).select_from(Agent)).one() == 0:
                return _bootstrap(session, self)
            raise Forbidden(
                f"'{self.actor_name}' is not a desk agent; a supervisor can add you with "
                f"'helpdesk agent add {self.actor_name}'"
            )
        if not agent.active:
            raise Forbidden(f"agent '{agent.name}' is deactivated and cannot act")
        if require is Role.SUPERVISOR and agent.role != Role.SUPERVISOR:
            raise Forbidden(f"only a supervisor may do this; '{agent.name}' is an agent")
        return agent


    def check_actor(self, session: Session, *, require: Role | None = None) -> int:
        """The acting agent's id, checked as :meth:`actor` checks it, with one light Core query.

        For read paths that run on every keystroke (customer lookup), where loading an ORM
        object costs more than the query itself. Anything unusual (unknown, deactivated, wrong
        role, empty desk) goes through :meth:`actor`, which raises or bootstraps.
        """
        row = session.connection().execute(_ACTOR_CHECK, {"name": self.actor_name}).first()
        if row is None or not row.active or (
            require is Role.SUPERVISOR and row.role != Role.SUPERVISOR
        ):
            return self.actor(session, require=require).id or 0
        return int(row.id)


_ACTOR_CHECK = sa.select(Agent.id, Agent.role, Agent.active).where(  # type: ignore[call-overload]
    Agent.name == sa.bindparam("name")
)


def _bootstrap(session: Session, desk: Desk) -> Agent:
    from helpdesk.services import audit

    agent = Agent(name=desk.actor_name, display_name=desk.actor_name, role=Role.SUPERVISOR)
    session.add(agent)
    session.flush()
    audit.record(session, desk, agent, "agent.bootstrap", "agent", agent.id)
    return agent


def resolve_actor_name(explicit: str | None, settings: Settings) -> str:
    """``--as`` beats ``HELPDESK_AGENT`` beats the OS user, when impersonation is allowed."""
    chosen = explicit or os.environ.get("HELPDESK_AGENT")
    if chosen and chosen != os_user() and not settings.allow_impersonation:
        raise Forbidden("acting as another agent is disabled in this desk's configuration")
    return chosen or os_user()


def open_desk(
    settings: Settings | None = None,
    *,
    db_url: str | None = None,
    actor: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Desk:
    settings = settings or load_settings()
    if db_url:
        settings = replace(settings, db_url=db_url)
    db = open_database(settings.db_url)
    name = resolve_actor_name(actor, settings)
    desk = Desk(db=db, settings=settings, actor_name=name, clock=clock)
    _bootstrap_if_empty(desk)
    return desk


def _bootstrap_if_empty(desk: Desk) -> None:
    """Register the first person on an empty desk now, in one writer, so that the UI's first
    concurrent reads (banner, queue, whoami) never race each other to do it (on SQLite a read
    transaction cannot turn into that write and fails as busy)."""
    with desk.db.session() as s:
        if s.exec(select(func.count()).select_from(Agent)).one():
            return
    with desk.db.session(write=True) as s:
        if s.exec(select(func.count()).select_from(Agent)).one() == 0:
            _bootstrap(s, desk)
