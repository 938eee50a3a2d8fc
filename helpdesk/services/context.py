"""The desk a service call runs against: database, settings, acting agent and clock."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from sqlmodel import Session, func, select
from sqlmodel.sql.expression import SelectOfScalar

from helpdesk.clock import utcnow
from helpdesk.config import Settings, load_settings
from helpdesk.db.engine import Database, open_database
from helpdesk.db.models import Agent
from helpdesk.db.search import CustomerSearch, for_dialect
from helpdesk.domain import Role
from helpdesk.errors import Forbidden, KeyMissing
from helpdesk.services.validation import check_agent_name


def os_account() -> str:
    """The operating-system account of this process, from its real uid.

    Not ``getpass.getuser()``: that reads LOGNAME and USER first, which anyone can set.
    """
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no entry in the password database (some containers)
        return f"uid-{uid}"


def real_account(db: Database) -> str:
    """Who really acts on ``db``: the OS account on SQLite, the session's role on PostgreSQL."""
    if db.backend == "postgresql":
        with db.engine.connect() as conn:
            return str(conn.exec_driver_sql("SELECT session_user").scalar_one())
    return os_account()


@dataclass
class Desk:
    """Everything a service needs. Cheap to copy with another actor (see :meth:`as_agent`).

    Two names travel with it: ``real_account``, who really acts (the OS account on SQLite, the
    session's role on PostgreSQL, never a name someone typed), and ``actor_name``, the agent
    acted as, which is the real account unless a supervisor chose another (``--as``, when the
    database allows it) or in-process code set it. Every audit event records both.
    """

    db: Database
    settings: Settings
    actor_name: str = ""  # empty: the real account
    clock: Callable[[], datetime] = utcnow
    real_account: str = ""  # empty: looked up from the OS or the database session
    search: CustomerSearch = field(init=False)

    def __post_init__(self) -> None:
        from helpdesk.services import keys

        self.search = for_dialect(self.db.backend)
        if not self.real_account:
            self.real_account = real_account(self.db)
        if not self.actor_name:
            self.actor_name = self.real_account
        keys.prepare(self)  # a new database gets its key before anything needs it

    def now(self) -> datetime:
        return self.clock()

    def as_agent(self, name: str) -> Desk:
        """The same desk acting as ``name``, in-process (tests, embedding code).

        No impersonation check: code that runs here can open the database itself. The real
        account stays, so the audit still says who really acted.
        """
        return replace(self, actor_name=name)

    @property
    def acting_as_other(self) -> bool:
        return self.actor_name != self.real_account

    def actor(self, session: Session, *, require: Role | None = None) -> Agent:
        """The acting agent, checked: known, active and (when asked) holding ``require``.

        On an empty database the first person to act is registered as a supervisor, so a new
        install can be set up without a chicken-and-egg step.
        """
        agent = session.exec(_actor_statement(), params={"name": self.actor_name}).first()
        if agent is None and session.exec(select(func.count()).select_from(Agent)).one() == 0:
            agent = _bootstrap(session, self)
        if agent is None:
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


_AGENT = Agent.__table__  # type: ignore[attr-defined]
#: On the table's columns, not the model's: an ORM statement would configure every mapper when
#: it first runs, and the desk command runs this one before its first screen.
_ACTOR_CHECK = sa.select(_AGENT.c.id, _AGENT.c.role, _AGENT.c.active).where(
    _AGENT.c.name == sa.bindparam("name")
)


@cache
def _actor_statement() -> SelectOfScalar[Agent]:
    """Every unit of work starts by loading its agent: the statement is built once, on first
    use (at import it would configure every ORM mapper on the way to the first screen)."""
    return select(Agent).where(Agent.name == sa.bindparam("name"))


#: PostgreSQL advisory lock key: desks registering the first supervisor take turns.
_PG_BOOTSTRAP_LOCK = 0x68640002


def _bootstrap(session: Session, desk: Desk) -> Agent | None:
    """Register the acting person as the first supervisor of an empty desk.

    Decided under a lock (on SQLite the writer already holds the database): a desk that had to
    wait finds the agent another desk registered meanwhile (itself, when the same person opened
    two desks) or, for anyone else, None.
    """
    from helpdesk.services import audit

    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_BOOTSTRAP_LOCK)))
    if session.exec(select(func.count()).select_from(Agent)).one():
        return session.exec(select(Agent).where(Agent.name == desk.actor_name)).first()
    agent = Agent(name=desk.actor_name, display_name=desk.actor_name, role=Role.SUPERVISOR)
    session.add(agent)
    session.flush()
    audit.record(session, desk, agent, "agent.bootstrap", "agent", agent.id)
    return agent


def open_desk(
    settings: Settings | None = None,
    *,
    db_url: str | None = None,
    act_as: str | None = None,
    agent: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Desk:
    """Open the configured database and the desk acting as the real account.

    ``act_as`` is the command line's ``--as``: acting as another agent, allowed only where a
    supervisor turned it on for this database and only to a real account that is an active
    supervisor (see :func:`check_act_as`). ``agent`` is for in-process callers only (tests,
    embedding code), like :meth:`Desk.as_agent`; nothing on the command line reaches it.
    """
    settings = settings or load_settings()
    if db_url:
        settings = replace(settings, db_url=db_url)
    db = open_database(settings.db_url)
    desk = Desk(db=db, settings=settings, clock=clock)
    if agent:
        desk = desk.as_agent(agent)
    elif act_as and act_as != desk.real_account:
        check_agent_name(act_as)
        check_act_as(desk)
        desk = desk.as_agent(act_as)
    _bootstrap_if_empty(desk)
    return desk


def check_act_as(desk: Desk) -> None:
    """Refuse acting as someone else unless it is on for this database and the real account
    is an active supervisor. The setting lives in the database (``desk_setting``), so no
    configuration file or environment variable can turn it on."""
    from helpdesk.services import desk_settings

    with desk.db.session() as s:
        if not desk_settings.impersonation_allowed(s):
            raise Forbidden(
                "acting as another agent is off for this database; a supervisor can turn it "
                "on with 'helpdesk agent impersonation on'"
            )
        me = s.exec(select(Agent).where(Agent.name == desk.real_account)).first()
        if me is None or not me.active or me.role != Role.SUPERVISOR:
            raise Forbidden(
                f"only an active supervisor may act as another agent; you are "
                f"'{desk.real_account}'"
            )


def _bootstrap_if_empty(desk: Desk) -> None:
    """Register the first person on an empty desk now, in one writer, so that the UI's first
    concurrent reads (banner, queue, whoami) never race each other to do it (on SQLite a read
    transaction cannot turn into that write and fails as busy)."""
    with desk.db.session() as s:
        if s.exec(select(func.count()).select_from(Agent)).one():
            return
    try:
        with desk.db.session(patient=True) as s:  # desks that start together queue here
            if s.exec(select(func.count()).select_from(Agent)).one() == 0:
                _bootstrap(s, desk)
    except KeyMissing:
        pass  # the desk can still install the key ('helpdesk key import'); acting is refused
