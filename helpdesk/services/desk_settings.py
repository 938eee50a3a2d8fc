"""Settings that hold for every desk of one database, kept in the database itself.

A setting that weakens security (acting as another agent) must not be something a user can turn
on for themselves with a file in their home folder or an environment variable pointing at
another configuration: it lives with the data, only a supervisor changes it, and every change is
audited.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from helpdesk.db.models import Agent, DeskSetting
from helpdesk.domain import Role
from helpdesk.services import audit
from helpdesk.services.context import Desk

IMPERSONATION = "allow_impersonation"


def _value(session: Session, name: str, default: Any = None) -> Any:
    row = session.get(DeskSetting, name)
    return default if row is None else row.value


def impersonation_allowed(session: Session) -> bool:
    """Whether a supervisor may act as another agent (``--as``); off unless turned on."""
    return _value(session, IMPERSONATION, False) is True


def get_impersonation(desk: Desk) -> bool:
    with desk.db.session() as s:
        desk.check_actor(s)
        return impersonation_allowed(s)


def set_impersonation(desk: Desk, *, allowed: bool) -> bool:
    """Turn acting as another agent on or off for every desk of this database (supervisors)."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        store(s, desk, actor, IMPERSONATION, allowed)
        return allowed


def store(session: Session, desk: Desk, actor: Agent, name: str, new: Any) -> None:
    """Set ``name`` inside the caller's unit of work (a supervisor's), audited when it changes.
    Values are flags and role names, never personal data: the audit records them."""
    row = session.get(DeskSetting, name)
    if row is not None and row.value == new:
        return
    row = row or DeskSetting(name=name, value=new)
    row.value = new
    row.updated_at = desk.now()
    row.updated_by_id = actor.id
    session.add(row)
    session.flush()
    audit.record(session, desk, actor, "setting.change", "desk_setting", None, name=name,
                 value=new)
