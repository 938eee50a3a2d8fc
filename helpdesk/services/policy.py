"""Privacy policy versions: the company's text, loaded at run time, and which one was in force.

A version carries the periods it promises (calendar days per kind of request, and for
disputes), read from its text when it is added and confirmed by a supervisor, who may change
them until the version takes effect. Every deadline the desk computes goes through
:func:`deadline_for` / :func:`apply_deadline`: the version in force at receipt, or the desk's
service level where the version names no period, and the stricter of that and any legal rule.

A version added later reaches back: cases and consent events whose date falls inside its
effective window are given it (noted in their history), and those cases' deadlines are
recomputed from its periods. Nothing else moves. On PostgreSQL, adding a version waits for
every unit of work that is stamping a row with the version in force (:func:`stamp`), and those
started meanwhile wait for it, so no case or consent event slips past the reach-back with the
older version; SQLite's writers take turns anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from helpdesk import clock, policytext
from helpdesk.db.models import Agent, Case, CaseEvent, ConsentEvent, PolicyVersion
from helpdesk.domain import CaseKind, Role
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import audit
from helpdesk.services.context import Desk
from helpdesk.services.validation import clean_text, parse_choice

MAX_PERIOD_DAYS = 366
_PG_VERSIONS_LOCK = 0x68640003  # advisory lock: stamping rows (shared) against adding (alone)


@dataclass(frozen=True, slots=True)
class PeriodInfo:
    """One kind's clock under a version, and where it comes from."""

    kind: CaseKind
    days: int
    source: str  # "text", "as deletion" (derived), "set by supervisor", "service level"
    part: str | None  # the Part heading of the sentence stating it
    sentence: str | None  # the policy's own sentence (None unless read from the text)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyPreview:
    """What the desk read from a text, for the supervisor to confirm before it is added."""

    periods: tuple[PeriodInfo, ...]  # every kind, in kind order
    header_lines: int
    header: tuple[str, ...]  # the lines left out of answers as not policy text


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    id: int
    label: str
    effective_on: date
    sha256: str
    added_at: datetime
    chars: int
    periods: dict[str, int]
    header_lines: int
    editable: bool  # periods may still change: the version has not taken effect
    #: When just added: earlier cases given this version (deadlines recomputed), and how many
    #: consent events.
    cases_reached: tuple[int, ...] = ()
    consent_events_reached: int = 0


def _info(p: PolicyVersion, today: date, reached: tuple[int, ...] = (),
          consent: int = 0) -> PolicyInfo:
    return PolicyInfo(id=p.id or 0, label=p.label, effective_on=p.effective_on, sha256=p.sha256,
                      added_at=p.added_at, chars=len(p.text), periods=dict(p.periods),
                      header_lines=p.header_lines, editable=p.effective_on > today,
                      cases_reached=reached, consent_events_reached=consent)


def _today(desk: Desk) -> date:
    return clock.local_date(desk.now(), desk.settings.tz)


def parse_periods(values: Mapping[str, int] | Mapping[CaseKind, int]) -> dict[str, int]:
    """Check a kind -> days mapping (from ``--period KIND=DAYS`` or a form)."""
    out: dict[str, int] = {}
    for raw, days in values.items():
        kind = parse_choice(CaseKind, raw, what="case kind", plural="kinds", field="periods")
        if isinstance(days, bool) or not isinstance(days, int) or not (
            0 < days <= MAX_PERIOD_DAYS
        ):
            raise Invalid(f"the period for {kind.value} must be between 1 and "
                          f"{MAX_PERIOD_DAYS} days", field="periods")
        out[kind.value] = days
    return out


def _check_text(text: str) -> None:
    if not text or not text.strip():
        raise Invalid("the policy file is empty", field="text")
    if "\x00" in text:
        raise Invalid("the policy file is not text (it contains NUL bytes)", field="text")


def _header(text: str, header_lines: int | None) -> int:
    if header_lines is None:
        return policytext.header_lines(text)
    if header_lines < 0 or header_lines >= len(text.splitlines()):
        raise Invalid("the header lines must leave some policy text", field="header_lines")
    return header_lines


def preview(
    desk: Desk, *, text: str, periods: Mapping[str, int] | None = None,
    header_lines: int | None = None,
) -> PolicyPreview:
    """The periods and header the desk reads from ``text``, with the supervisor's changes
    (``periods``) applied: what :func:`add` would store. Reads no database."""
    _check_text(text)
    lines = _header(text, header_lines)
    body = policytext.body(text, lines)
    stored = {f.kind.value: f.days for f in policytext.read_periods(body)}
    stored.update(parse_periods(periods or {}))
    return PolicyPreview(periods=_period_infos(desk, body, stored), header_lines=lines,
                         header=tuple(text.splitlines()[:lines]))


def _period_infos(desk: Desk, body: str, periods: Mapping[str, int]) -> tuple[PeriodInfo, ...]:
    """Every kind's clock under ``periods`` (kind -> days) and where it comes from: the text's
    own sentence when it says the same, else the supervisor's setting; a kind without a period
    runs on the desk's service level."""
    read = {f.kind: f for f in policytext.read_periods(body)}
    out = []
    for kind in CaseKind:
        days = periods.get(kind.value)
        finding = read.get(kind)
        if days is None:
            out.append(PeriodInfo(kind, desk.settings.service_level(kind), "service level",
                                  None, None, "the policy names no period for this kind"))
        elif finding is not None and finding.days == days:
            source = f"as {finding.follows.value}" if finding.follows else "text"
            out.append(PeriodInfo(kind, days, source, finding.part, finding.sentence,
                                  finding.note))
        else:
            out.append(PeriodInfo(kind, days, "set by supervisor", None, None))
    return tuple(out)


def _stored_periods(p: PolicyPreview) -> dict[str, int]:
    return {i.kind.value: i.days for i in p.periods if i.source != "service level"}


def add(
    desk: Desk, *, text: str, effective_on: date, label: str | None = None,
    periods: Mapping[str, int] | None = None, header_lines: int | None = None,
) -> PolicyInfo:
    """Register a policy version (supervisors only) with the periods read from its text and
    any the supervisor set (``periods``). The same text twice is a conflict.

    Cases and consent events inside the version's effective window are given it, and those
    cases' deadlines follow its periods (see the module docstring).
    """
    found = preview(desk, text=text, periods=periods, header_lines=header_lines)
    name = clean_text(label, field="label") or f"Privacy policy effective {effective_on}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    with desk.db.session(write=True) as s:
        _hold_versions(s, alone=True)
        actor = desk.actor(s, require=Role.SUPERVISOR)
        if s.exec(select(PolicyVersion).where(PolicyVersion.sha256 == digest)).first():
            raise Conflict("this policy text is already registered")
        if s.exec(select(PolicyVersion).where(PolicyVersion.effective_on == effective_on)).first():
            raise Conflict(f"a policy version already takes effect on {effective_on}")
        row = PolicyVersion(label=name, effective_on=effective_on, text=text, sha256=digest,
                            added_at=desk.now(), added_by_id=actor.id,
                            periods=_stored_periods(found), header_lines=found.header_lines)
        s.add(row)
        s.flush()
        audit.record(s, desk, actor, "policy.add", "policy_version", row.id,
                     effective_on=effective_on.isoformat(), sha256=digest, periods=row.periods)
        reached, consent = _reach_back(s, desk, actor, row)
        return _info(row, _today(desk), reached, consent)


def set_periods(desk: Desk, *, policy_id: int, periods: Mapping[str, int]) -> PolicyInfo:
    """Change a version's periods (supervisors only) before it takes effect."""
    chosen = parse_periods(periods)
    if not chosen:
        raise Invalid("no period given: use KIND=DAYS", field="periods")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        row = _load(s, policy_id)
        if row.effective_on <= _today(desk):
            raise Conflict(f"policy version #{policy_id} took effect on {row.effective_on}; "
                           "its periods can no longer change (add a new version instead)")
        before = dict(row.periods)
        row.periods = {**before, **chosen}
        s.add(row)
        s.flush()
        audit.record(s, desk, actor, "policy.periods", "policy_version", row.id,
                     before=before, after=row.periods)
        return _info(row, _today(desk))


@dataclass(frozen=True, slots=True)
class PolicyDetail:
    version: PolicyInfo
    periods: tuple[PeriodInfo, ...]
    header: tuple[str, ...]


def show(desk: Desk, policy_id: int) -> PolicyDetail:
    """A version with every kind's clock and where it comes from."""
    with desk.db.session() as s:
        desk.actor(s)
        row = _load(s, policy_id)
        lines = row.text.splitlines()
        return PolicyDetail(
            _info(row, _today(desk)),
            _period_infos(desk, policytext.body(row.text, row.header_lines), row.periods),
            tuple(lines[:row.header_lines]),
        )


def _load(s: Session, policy_id: int) -> PolicyVersion:
    row = s.get(PolicyVersion, policy_id)
    if row is None:
        raise NotFound(f"no policy version #{policy_id}")
    return row


def in_force(session: Session, at: datetime, desk: Desk) -> PolicyVersion | None:
    """The version whose effective date (in the desk's zone) is the latest on or before ``at``."""
    day = clock.local_date(at, desk.settings.tz)
    return session.exec(
        select(PolicyVersion).where(PolicyVersion.effective_on <= day)
        .order_by(col(PolicyVersion.effective_on).desc()).limit(1)
    ).first()


def _hold_versions(session: Session, *, alone: bool) -> None:
    """Until this unit of work ends, keep versions from being added (``alone``: add one)."""
    if session.get_bind().dialect.name == "postgresql":
        take = sa.func.pg_advisory_xact_lock if alone else sa.func.pg_advisory_xact_lock_shared
        session.execute(sa.select(take(_PG_VERSIONS_LOCK)))


def stamp(session: Session, at: datetime, desk: Desk) -> PolicyVersion | None:
    """The version in force at ``at`` for a row this unit of work stamps with it (a case, a
    consent event); no version is added until the row is committed."""
    _hold_versions(session, alone=False)
    return in_force(session, at, desk)


def deadline_for(
    session: Session, desk: Desk, kind: CaseKind, received_at: datetime,
    also: Sequence[CaseKind] = (),
) -> tuple[clock.Deadline, PolicyVersion | None]:
    """The deadline of a ``kind`` request received at ``received_at`` (the earliest with the
    ``also`` kinds the same letter asks for), and the version in force then (None: received
    before any loaded version)."""
    version = stamp(session, received_at, desk)
    periods = version.periods if version is not None else None
    return clock.earliest_deadline((kind, *also), received_at, desk.settings, periods), version


def apply_deadline(case: Case, deadline: clock.Deadline) -> None:
    """Put ``deadline`` on ``case``; a supervisor's override keeps ``due_at`` where it is."""
    case.policy_due_at = deadline.policy
    case.rule_due_at = deadline.effective
    if case.override_due_at is None:
        case.due_at = deadline.effective
        case.due_rule = deadline.rule


def _window(s: Session, desk: Desk, row: PolicyVersion) -> tuple[datetime, datetime | None]:
    """The instants a version is in force: from its effective day to the next version's."""
    tz = desk.settings.tz
    following = s.exec(
        select(PolicyVersion.effective_on).where(PolicyVersion.effective_on > row.effective_on)
        .order_by(col(PolicyVersion.effective_on)).limit(1)
    ).first()
    return (clock.start_of_day(row.effective_on, tz),
            clock.start_of_day(following, tz) if following else None)


def _reach_back(
    s: Session, desk: Desk, actor: Agent, row: PolicyVersion
) -> tuple[tuple[int, ...], int]:
    """Give ``row`` to the cases and consent events inside its window, noting it on each.
    Open cases take its clock; closed ones keep the deadline they were closed against."""
    # the classifier's rules load only when a policy change reaches back (not on every start)
    from helpdesk.intake.classify import stored_clock_kinds

    lo, hi = _window(s, desk, row)
    tz = desk.settings.tz
    query = select(Case).where(col(Case.received_at) >= lo)
    if hi is not None:
        query = query.where(col(Case.received_at) < hi)
    labels = dict(s.exec(select(PolicyVersion.id, PolicyVersion.label)).all())
    reached = []
    now = desk.now()
    for case in s.exec(query.order_by(col(Case.id))).all():
        before = clock.due_date(case.rule_due_at, tz)
        old_label = labels.get(case.policy_version_id) if case.policy_version_id else None
        case.policy_version_id = row.id
        case.updated_at = now
        if case.closed_at is not None:
            # worked and judged against the clock it had: moving it now would rewrite
            # whether it was closed on time (reports already run, letters already sent)
            note = (f"policy version loaded later; the case was closed before this version "
                    f"was loaded: deadline stays {before}")
        else:
            deadline = clock.earliest_deadline(
                stored_clock_kinds(case.kind, case.classification), case.received_at,
                desk.settings, row.periods)
            apply_deadline(case, deadline)
            after = clock.due_date(deadline.effective, tz)
            note = ("policy version loaded later; " + (
                f"deadline {before} -> {after}" if before != after
                else f"deadline stays {before}")
                + (" (the supervisor's override stays in force)"
                   if case.override_due_at is not None else ""))
        s.add(case)
        s.add(CaseEvent(case_id=case.id, at=now, actor_id=actor.id, action="policy_version",
                        from_value=old_label or "none in force",
                        to_value=row.label, note=note))
        reached.append(case.id or 0)
    consent = select(ConsentEvent).where(col(ConsentEvent.at) >= lo)
    if hi is not None:
        consent = consent.where(col(ConsentEvent.at) < hi)
    events = s.exec(consent).all()
    for event in events:
        event.policy_version_id = row.id
        event.policy_assigned_at = now
        s.add(event)
    s.flush()
    if reached or events:
        audit.record(s, desk, actor, "policy.reach_back", "policy_version", row.id,
                     cases=len(reached), consent_events=len(events))
    return tuple(reached), len(events)


def list_versions(desk: Desk) -> list[PolicyInfo]:
    with desk.db.session() as s:
        today = _today(desk)
        return [_info(p, today) for p in s.exec(select(PolicyVersion).order_by(
            col(PolicyVersion.effective_on)))]


def text_of(desk: Desk, policy_id: int) -> str:
    with desk.db.session() as s:
        return _load(s, policy_id).text
