"""Reply templates: shipped defaults, supervisor edits, and safe rendering for a case.

Syntax is :class:`string.Template`'s: ``${name}`` (or ``$name``) for a placeholder and ``$$`` for a
literal dollar sign. Substitution is a single pass over the *template* text, so whatever a value
contains (a customer's name such as ``${policy_text}`` or ``{0.__class__}``) is inserted as plain
text and never read as a placeholder or a format spec.

A placeholder the desk does not know is refused when the template is saved; a known placeholder
that has no value for the case at hand (no override, no outcome yet, no policy version) is
refused when the reply is prepared. Either way the agent sees an :class:`Invalid` naming the
placeholder before anything is sent, never a blank in the letter.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from helpdesk import clock
from helpdesk.db.engine import INSUFFICIENT_PRIVILEGE
from helpdesk.db.models import Agent, Case, CaseEvent, Customer, Message, PolicyVersion, Template
from helpdesk.domain import CaseKind, CaseStatus, DisputeStage, MessageDirection, Role
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import answers, audit, verification
from helpdesk.services.cases import parse_kind
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CaseDetail
from helpdesk.services.validation import clean_text

DEFAULT_LANGUAGE = "en"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_SHIPPED_PACKAGE = "helpdesk.templates"

#: Every placeholder a template may use, with what it stands for (shown by ``template show``).
PLACEHOLDERS: dict[str, str] = {
    "customer_name": "the customer's name",
    "case_number": "the case number, e.g. 123",
    "case_tag": "the subject tag replies thread by, e.g. [Case #123]",
    "case_kind": "the kind of request, e.g. Deletion",
    "received_date": "the day the request was received (desk time zone)",
    "due_date": "the day the request is due (the effective deadline)",
    "days_left": "whole days until the due date (open cases not yet overdue)",
    "days_overdue": "whole days past the due date (overdue open cases only)",
    "clock_days": "the calendar days from receipt to the due date (e.g. 30)",
    "original_due_date": "the due date promised before any override",
    "override_due_date": "the due date a supervisor's override set (overridden cases only)",
    "override_reason": "the reason recorded with the override (overridden cases only)",
    "outcome": "the outcome recorded on the case (once there is one)",
    "agent_name": "the display name of the agent writing the reply",
    "policy_version": "the label of the privacy policy version in force at receipt",
    "policy_part": "the heading of the policy part that governs the kind, e.g. Part III. ...",
    "policy_text": "the text of that policy part",
    "desk_address": "the desk's own e-mail address",
    "verification_code": "the code the requester sends back to prove who they are (access, "
    "correction and deletion requests)",
    "identity_check": "the 'identity_check' template's text with the code, while the "
    "requester of an access, correction or deletion case is not verified (empty otherwise)",
}

@dataclass(frozen=True, slots=True)
class TemplateInfo:
    id: int
    name: str
    kind: CaseKind | None  # None: usable for every kind
    language: str
    subject: str
    body: str
    transactional: bool
    version: int
    updated_at: datetime
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


def _info(t: Template, updated_by: str | None) -> TemplateInfo:
    return TemplateInfo(
        id=t.id or 0, name=t.name, kind=CaseKind(t.kind) if t.kind else None,
        language=t.language, subject=t.subject, body=t.body, transactional=t.transactional,
        version=t.version, updated_at=t.updated_at, updated_by=updated_by,
    )


# --- placeholder syntax ---------------------------------------------------------------------------

def placeholders_in(text: str, *, field: str) -> list[str]:
    """The placeholder names ``text`` uses, in order; malformed ``$`` uses are refused."""
    names: list[str] = []
    for m in string.Template.pattern.finditer(text):
        if m.group("invalid") is not None:
            line = text.count("\n", 0, m.start()) + 1
            raise Invalid(
                f"the {field} has a '$' that starts no placeholder (line {line}); write $$ for a "
                "dollar sign or ${name} for a placeholder", field=field,
            )
        name = m.group("named") or m.group("braced")
        if name and name not in names:
            names.append(name)
    return names


def check_placeholders(text: str, *, field: str) -> None:
    unknown = [n for n in placeholders_in(text, field=field) if n not in PLACEHOLDERS]
    if unknown:
        raise Invalid(
            f"the {field} uses unknown placeholder ${{{unknown[0]}}}; known placeholders are: "
            + ", ".join(PLACEHOLDERS), field=field,
        )


def render_text(text: str, values: dict[str, str | None], *, field: str) -> str:
    """Fill ``text`` from ``values``; any placeholder without a value is an error, never a blank."""
    needed = placeholders_in(text, field=field)
    unknown = [n for n in needed if n not in values]
    if unknown:
        raise Invalid(f"the {field} uses unknown placeholder ${{{unknown[0]}}}", field=field)
    missing = [n for n in needed if values[n] is None]
    if "days_left" in missing and values.get("days_overdue"):
        raise Invalid(f"this case is overdue by {values['days_overdue']} days, so it has no "
                      "${days_left}: use a letter that says it is overdue (e.g. the "
                      "'overdue_notice' template, with ${days_overdue})", field=field)
    if missing:
        described = "; ".join(f"${{{n}}} ({PLACEHOLDERS.get(n, n)})" for n in missing)
        raise Invalid(f"this case has no value for {described}: fill it in on the case or "
                      "choose another template", field=field)
    return string.Template(text).substitute({n: values[n] for n in needed})


# --- values for a case ----------------------------------------------------------------------------

def case_language(s: Session, case: Case) -> str | None:
    """The language the customer wrote in: their latest letter's, else the case classification's."""
    lang = s.exec(
        select(Message.language)
        .where(Message.case_id == case.id, Message.direction == MessageDirection.INBOUND,
               col(Message.language).is_not(None))
        .order_by(col(Message.at).desc(), col(Message.id).desc()).limit(1)
    ).first()
    if not lang and case.classification:
        lang = case.classification.get("language")
    return lang if isinstance(lang, str) and _LANGUAGE.match(lang) else None


def case_values(s: Session, desk: Desk, case: Case, actor: Agent) -> dict[str, str | None]:
    """The value of every placeholder for ``case`` (None where the case has none)."""
    tz = desk.settings.tz
    kind = CaseKind(case.kind)
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    policy = s.get(PolicyVersion, case.policy_version_id) if case.policy_version_id else None
    part = answers.part_for(policy.text, kind) if policy else None
    open_ = case.closed_at is None
    left = clock.days_left(case.due_at, desk.now(), tz)

    def day(instant: datetime | None) -> str | None:
        return clock.due_date(instant, tz).isoformat() if instant else None

    return {
        "customer_name": customer.name if customer else None,
        "case_number": str(case.id),
        "case_tag": case_tag(case.id or 0),
        "case_kind": kind.label,
        "received_date": clock.local_date(case.received_at, tz).isoformat(),
        "due_date": day(case.due_at),
        "days_left": str(left) if open_ and left >= 0 else None,
        "days_overdue": str(-left) if open_ and left < 0 else None,
        "clock_days": str((clock.due_date(case.due_at, tz)
                           - clock.local_date(case.received_at, tz)).days),
        "original_due_date": day(case.policy_due_at) or _promised_before_override(s, case, tz),
        "override_due_date": day(case.override_due_at),
        "override_reason": case.override_reason if case.override_due_at else None,
        "outcome": case.outcome,
        "agent_name": actor.display_name,
        "policy_version": policy.label if policy else None,
        "policy_part": f"Part {part.number}. {part.title}" if part else None,
        "policy_text": part.text if part else None,
        "desk_address": desk.settings.mail_from,
        "verification_code": None,  # filled by render_for_case when a template asks for it
        "identity_check": "",
    }


def _promised_before_override(s: Session, case: Case, tz: ZoneInfo) -> str | None:
    """The due day promised before any override, for kinds the policy sets no clock for."""
    if case.override_due_at is None:
        return clock.due_date(case.due_at, tz).isoformat()
    return s.exec(
        select(CaseEvent.from_value).where(CaseEvent.case_id == case.id,
                                           CaseEvent.action == "deadline_override")
        .order_by(col(CaseEvent.id)).limit(1)
    ).first()


def _verification_values(
    s: Session, desk: Desk, case: Case, actor: Agent, language: str
) -> dict[str, str | None]:
    """The case's code (made on first use), and the identity_check text while unverified."""
    state = verification.info(s, case)
    if state is None:
        return {"verification_code": None, "identity_check": ""}
    code = verification.code_for(s, desk, case)
    if state.verified:
        return {"verification_code": code, "identity_check": ""}
    ensure_defaults(s, desk, actor)
    check = find(s, "identity_check", language)  # falls back to English
    values = {**case_values(s, desk, case, actor), "verification_code": code}
    return {"verification_code": code,
            "identity_check": render_text(check.body, values, field="body").strip("\n")}


def case_tag(case_id: int) -> str:
    """The subject tag intake threads replies by; keep this exact format."""
    return f"[Case #{case_id}]"


def render_for_case(
    s: Session, desk: Desk, template: Template, case: Case, actor: Agent
) -> Rendered:
    if template.kind and template.kind != case.kind:
        raise Invalid(
            f"template '{template.name}' is for {CaseKind(template.kind).label} cases; case "
            f"#{case.id} is a {CaseKind(case.kind).label} case", field="template",
        )
    values = case_values(s, desk, case, actor)
    asked = {*placeholders_in(template.subject, field="subject"),
             *placeholders_in(template.body, field="body")}
    if asked & {"verification_code", "identity_check"}:
        values.update(_verification_values(s, desk, case, actor, template.language))
    subject = render_text(template.subject, values, field="subject")
    body = render_text(template.body, values, field="body")
    body = re.sub(r"\n{3,}", "\n\n", body)  # an empty ${identity_check} leaves no gap
    # A header is one line: whatever a value held, the subject cannot grow a second one.
    subject = " ".join(subject.split())
    tag = values["case_tag"] or ""
    if tag not in subject:
        subject = f"{subject} {tag}"
    return Rendered(subject=subject, body=body.strip("\n") + "\n")


# --- shipped defaults -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Shipped:
    name: str
    language: str
    kind: str | None
    subject: str
    body: str
    transactional: bool


def shipped() -> list[_Shipped]:
    """The default templates in the package (``NAME.LANG.toml``)."""
    out = []
    for entry in sorted(resources.files(_SHIPPED_PACKAGE).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        name, language, _ = entry.name.rsplit(".", 2)
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        out.append(_Shipped(name=name, language=language, kind=data.get("kind"),
                            subject=data["subject"], body=data["body"].strip("\n") + "\n",
                            transactional=bool(data.get("transactional", True))))
    return out


def ensure_defaults(s: Session, desk: Desk, actor: Agent) -> int:
    """Add any shipped template missing from the table, and bring the ones nobody edited up to
    the shipped text (a corrected letter reaches desks that already seeded the old one);
    returns how many were added or refreshed.

    Templates a supervisor edited or created are left alone. Two desks seeding at once is
    harmless: each write is guarded by a savepoint, the (name, language) unique constraint and
    the row version.
    """
    have = {(t.name, t.language): t for t in s.exec(select(Template)).all()}
    changed = 0
    for t in shipped():
        row = have.get((t.name, t.language))
        values = {"kind": t.kind, "subject": t.subject, "body": t.body,
                  "transactional": t.transactional}
        if row is not None and (row.updated_by_id is not None or all(
                getattr(row, f) == v for f, v in values.items())):
            continue
        try:
            with s.begin_nested():
                if row is None:
                    s.add(Template(name=t.name, language=t.language, updated_at=desk.now(),
                                   **values))
                else:
                    for f, v in values.items():
                        setattr(row, f, v)
                    s.add(row)
        except (sa.exc.IntegrityError, StaleDataError):
            continue  # another desk seeded it a moment ago
        except sa.exc.ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                raise
            break  # team mode: an agent may not write templates; a supervisor's desk seeds
        changed += 1
    if changed:
        audit.record(s, desk, actor, "template.seed", "reply_template", None, added=changed)
    return changed


def check_key(name: str, language: str | None) -> None:
    """Refuse a name or language no template can have, before it reaches the database."""
    if not _NAME.match(name or ""):
        raise Invalid("template names are lower-case letters, digits and underscores",
                      field="name")
    if language is not None and not _LANGUAGE.match(language):
        raise Invalid("language is a code such as en, de or pt-br", field="language")


def find(s: Session, name: str, language: str | None) -> Template:
    """The template ``name`` in ``language``, falling back to English."""
    check_key(name, language)
    for lang in dict.fromkeys([language or DEFAULT_LANGUAGE, DEFAULT_LANGUAGE]):
        row = s.exec(select(Template).where(Template.name == name,
                                            Template.language == lang)).first()
        if row is not None:
            return row
    raise NotFound(f"no reply template named '{name}'; 'helpdesk template list' shows them")


def _updated_by(s: Session, rows: list[Template]) -> dict[int, str]:
    ids = {t.updated_by_id for t in rows if t.updated_by_id}
    if not ids:
        return {}
    return dict(s.exec(select(Agent.id, Agent.name).where(col(Agent.id).in_(ids))).all())


# --- use cases ------------------------------------------------------------------------------------

def list_templates(desk: Desk, *, kind: CaseKind | str | None = None) -> list[TemplateInfo]:
    """Every template (all languages); with ``kind``, those usable for that kind."""
    wanted = parse_kind(kind) if kind is not None else None
    with desk.db.session(write=True) as s:
        ensure_defaults(s, desk, desk.actor(s))
        query = select(Template).order_by(col(Template.name), col(Template.language))
        if wanted is not None:
            query = query.where(sa.or_(col(Template.kind).is_(None), Template.kind == wanted))
        rows = list(s.exec(query).all())
        names = _updated_by(s, rows)
        return [_info(t, names.get(t.updated_by_id or 0)) for t in rows]


#: The dispute letter that fits each stage: the acknowledgement until a resolution is
#: proposed, then the resolution.
_DISPUTE_LETTER = {
    DisputeStage.RECEIVED: "dispute_acknowledged",
    DisputeStage.ACKNOWLEDGED: "dispute_acknowledged",
    DisputeStage.INVESTIGATING: "dispute_acknowledged",
    DisputeStage.RESOLUTION_PROPOSED: "dispute_resolved",
    DisputeStage.RESOLVED: "dispute_resolved",
}


def suggested(detail: CaseDetail, usable: Sequence[TemplateInfo]) -> str | None:
    """Of the ``usable`` templates, the name of the one that fits where the case is: a
    dispute's letter for its stage; the overdue notice for an open case past its deadline; the
    acknowledgement for a new case nothing has been done on yet; otherwise the first made for
    the case's kind (its "done" letter); else the first there is."""
    case = detail.case
    names = [t.name for t in usable]
    untouched = case.status is CaseStatus.NEW and not detail.corrections and not any(
        m.direction is MessageDirection.OUTBOUND for m in detail.messages)
    wanted: list[str] = []
    if case.dispute_stage is not None:
        wanted.append(_DISPUTE_LETTER.get(case.dispute_stage, ""))
    elif case.overdue:
        wanted.append("overdue_notice")
    elif untouched:
        wanted.append("acknowledgement")
    wanted += [t.name for t in usable if t.kind is case.kind]
    return next((n for n in wanted if n in names), names[0] if names else None)


def get(desk: Desk, *, name: str, language: str | None = None) -> TemplateInfo:
    with desk.db.session(write=True) as s:
        ensure_defaults(s, desk, desk.actor(s))
        row = find(s, name, language)
        return _info(row, _updated_by(s, [row]).get(row.updated_by_id or 0))


def _clean_template_text(subject: str | None, body: str | None) -> tuple[str | None, str | None]:
    if subject is not None:
        subject = clean_text(subject, field="subject", required=True)
        check_placeholders(subject or "", field="subject")
    if body is not None:
        body = clean_text(body, field="note", multiline=True)  # the note limit suits a letter
        if body is None:
            raise Invalid("the body is empty", field="body")
        check_placeholders(body, field="body")
        body += "\n"
    return subject, body


def update(
    desk: Desk,
    *,
    name: str,
    language: str = DEFAULT_LANGUAGE,
    subject: str | None = None,
    body: str | None = None,
    transactional: bool | None = None,
    expected_version: int | None = None,
) -> TemplateInfo:
    """Edit one language of a template (supervisors only). Unknown placeholders are refused."""
    check_key(name, language)
    subject, body = _clean_template_text(subject, body)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        ensure_defaults(s, desk, actor)
        row = s.exec(select(Template).where(Template.name == name,
                                            Template.language == language)
                     .with_for_update().execution_options(populate_existing=True)).first()
        if row is None:
            raise NotFound(f"no reply template '{name}' in language '{language}'")
        if expected_version is not None and row.version != expected_version:
            raise Conflict(f"template '{name}' ({language}) was changed by someone else since "
                           "you opened it; reload to see the change")
        changed = {f: v for f, v in (("subject", subject), ("body", body),
                                     ("transactional", transactional))
                   if v is not None and getattr(row, f) != v}
        if changed:
            for f, v in changed.items():
                setattr(row, f, v)
            row.updated_by_id = actor.id
            row.updated_at = desk.now()
            s.add(row)
            s.flush()
            audit.record(s, desk, actor, "template.update", "reply_template", row.id,
                         fields=sorted(changed), language=language)
        return _info(row, actor.name if changed else
                     _updated_by(s, [row]).get(row.updated_by_id or 0))


def create(
    desk: Desk,
    *,
    name: str,
    language: str = DEFAULT_LANGUAGE,
    kind: CaseKind | str | None = None,
    subject: str,
    body: str,
    transactional: bool = True,
) -> TemplateInfo:
    """Add a template, or another language of one (supervisors only)."""
    check_key(name, language)
    wanted = parse_kind(kind) if kind is not None else None
    cleaned_subject, cleaned_body = _clean_template_text(subject, body)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        ensure_defaults(s, desk, actor)
        if s.exec(select(Template.id).where(Template.name == name,
                                            Template.language == language)).first():
            raise Conflict(f"template '{name}' already exists in '{language}'; edit it instead")
        row = Template(name=name, language=language, kind=wanted, subject=cleaned_subject,
                       body=cleaned_body, transactional=transactional, updated_by_id=actor.id,
                       updated_at=desk.now())
        s.add(row)
        s.flush()
        audit.record(s, desk, actor, "template.create", "reply_template", row.id,
                     language=language, kind=wanted.value if wanted else None,
                     transactional=transactional)
        return _info(row, actor.name)
