"""Privacy policy versions: the company's text, loaded at run time, and which one was in force."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from helpdesk import clock
from helpdesk.db.models import PolicyVersion
from helpdesk.domain import Role
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import audit
from helpdesk.services.context import Desk
from helpdesk.services.validation import clean_text


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    id: int
    label: str
    effective_on: date
    sha256: str
    added_at: datetime
    chars: int


def _info(p: PolicyVersion) -> PolicyInfo:
    return PolicyInfo(id=p.id or 0, label=p.label, effective_on=p.effective_on, sha256=p.sha256,
                      added_at=p.added_at, chars=len(p.text))


def add(desk: Desk, *, text: str, effective_on: date, label: str | None = None) -> PolicyInfo:
    """Register a policy version (supervisors only). The same text twice is a conflict."""
    if not text or not text.strip():
        raise Invalid("the policy file is empty", field="text")
    if "\x00" in text:
        raise Invalid("the policy file is not text (it contains NUL bytes)", field="text")
    name = clean_text(label, field="label") or f"Privacy policy effective {effective_on}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        if s.exec(select(PolicyVersion).where(PolicyVersion.sha256 == digest)).first():
            raise Conflict("this policy text is already registered")
        if s.exec(select(PolicyVersion).where(PolicyVersion.effective_on == effective_on)).first():
            raise Conflict(f"a policy version already takes effect on {effective_on}")
        row = PolicyVersion(label=name, effective_on=effective_on, text=text, sha256=digest,
                            added_at=desk.now(), added_by_id=actor.id)
        s.add(row)
        s.flush()
        audit.record(s, desk, actor, "policy.add", "policy_version", row.id,
                     effective_on=effective_on.isoformat(), sha256=digest)
        return _info(row)


def in_force(session: Session, at: datetime, desk: Desk) -> PolicyVersion | None:
    """The version whose effective date (in the desk's zone) is the latest on or before ``at``."""
    day = clock.local_date(at, desk.settings.tz)
    return session.exec(
        select(PolicyVersion).where(PolicyVersion.effective_on <= day)
        .order_by(col(PolicyVersion.effective_on).desc()).limit(1)
    ).first()


def list_versions(desk: Desk) -> list[PolicyInfo]:
    with desk.db.session() as s:
        return [_info(p) for p in s.exec(select(PolicyVersion).order_by(
            col(PolicyVersion.effective_on)))]


def text_of(desk: Desk, policy_id: int) -> str:
    with desk.db.session() as s:
        row = s.get(PolicyVersion, policy_id)
        if row is None:
            raise NotFound(f"no policy version #{policy_id}")
        return row.text
