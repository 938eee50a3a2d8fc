"""Replies: a template rendered for a case, written as a standard .eml and recorded on the case.

Agents send from their own mail client, so the desk's job ends at a file any client opens:
UTF-8, a Message-ID under the desk's own domain, In-Reply-To and References pointing at the
customer's latest letter, and the ``[Case #N]`` tag in the subject. The reply is stored on the case
as an outbound message carrying that Message-ID, so when the customer answers, intake threads the
answer back onto the same case by its headers (or, failing those, by the tag).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlmodel import Session, col, select

from helpdesk.db.models import (
    Agent,
    Case,
    CaseEvent,
    Customer,
    CustomerEmail,
    Message,
    Template,
    touch,
)
from helpdesk.domain import MessageDirection
from helpdesk.errors import Conflict, Invalid
from helpdesk.files import write_private
from helpdesk.services import audit, suppression
from helpdesk.services import templates as template_service
from helpdesk.services.cases import load, load_for_change
from helpdesk.services.context import Desk
from helpdesk.services.validation import normalize_email

#: How many earlier ids References keeps (the root and the newest, as RFC 5322 suggests).
MAX_REFERENCES = 20


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    """A rendered reply, before or after it is written."""

    case_id: int
    template: str
    language: str
    transactional: bool
    from_address: str
    to_address: str
    to_name: str | None
    subject: str
    body: str
    in_reply_to: str | None
    references: tuple[str, ...]
    cc: tuple[str, ...] = ()  # copies to (a representative, a colleague), as written


@dataclass(frozen=True, slots=True)
class WrittenReply:
    draft: ReplyDraft
    message_id: str  # "<...@domain>", as in the header
    message_row_id: int  # the outbound message recorded on the case
    path: str | None  # where the .eml was written, if anywhere
    case_version: int
    eml: bytes


def _recipient(s: Session, case: Case) -> tuple[Customer, CustomerEmail]:
    customer = s.get(Customer, case.customer_id) if case.customer_id else None
    if customer is None:
        raise Invalid(f"case #{case.id} has no customer to reply to; link one first",
                      field="case")
    if customer.erased_at is not None:
        raise Conflict(f"customer #{customer.id} has been erased; there is no address to "
                       "reply to")
    email = s.exec(
        select(CustomerEmail).where(CustomerEmail.customer_id == customer.id)
        .order_by(col(CustomerEmail.is_primary).desc(), col(CustomerEmail.id)).limit(1)
    ).first()
    if email is None:
        raise Invalid(f"customer #{customer.id} has no e-mail address", field="case")
    return customer, email


def _marketing_blocked(s: Session, desk: Desk, customer: Customer,
                       email: CustomerEmail) -> str | None:
    """Why marketing to this customer at this address is not allowed, or None when it is."""
    if customer.under_13:
        return "the customer is a child under 13"
    if customer.marketing_opted_out:
        return "the customer opted out of marketing"
    if suppression.is_suppressed(s, desk, email.normalized):
        return "the address is on the suppression list"
    return None


def _thread(s: Session, case: Case) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References for a reply to the customer's latest letter on the case."""
    last = s.exec(
        select(Message.message_id, Message.references)
        .where(Message.case_id == case.id, Message.direction == MessageDirection.INBOUND,
               col(Message.message_id).is_not(None))
        .order_by(col(Message.at).desc(), col(Message.id).desc()).limit(1)
    ).first()
    if last is None:
        return None, ()
    message_id, earlier = last
    refs = [r for r in (earlier or "").split() if r.startswith("<") and r != message_id]
    if len(refs) >= MAX_REFERENCES:
        refs = [refs[0], *refs[-(MAX_REFERENCES - 2):]]
    return message_id, (*refs, message_id)


def clean_cc(addresses: Sequence[str], *, besides: str = "") -> tuple[tuple[str, str], ...]:
    """Cc addresses as (shown, key), checked without DNS; repeats and the To address dropped."""
    seen = {besides.casefold()} if besides else set()
    out = []
    for raw in addresses:
        shown, key = normalize_email(raw, field="cc")
        if key not in seen:
            seen.add(key)
            out.append((shown, key))
    return tuple(out)


def draft_template(
    s: Session, desk: Desk, actor: Agent, case: Case, template_name: str, language: str | None,
    cc: Sequence[str] = (),
) -> tuple[ReplyDraft, Template]:
    """``template_name`` rendered for ``case`` as a reply to its customer (and its row)."""
    template_service.ensure_defaults(s, desk, actor)
    wanted = language or template_service.case_language(s, case)
    template = template_service.find(s, template_name, wanted)
    rendered = template_service.render_for_case(s, desk, template, case, actor)
    draft = draft_for(s, desk, case, name=template.name, language=template.language,
                      transactional=template.transactional, subject=rendered.subject,
                      body=rendered.body, cc=cc)
    return draft, template


def draft_for(
    s: Session, desk: Desk, case: Case, *, name: str, language: str, transactional: bool,
    subject: str, body: str, cc: Sequence[str] = (),
) -> ReplyDraft:
    """A reply on ``case`` with this text: to the customer's primary address, threaded onto
    their latest letter. Marketing (not ``transactional``) is refused where it may not go."""
    customer, email = _recipient(s, case)
    copies = clean_cc(cc, besides=email.normalized)
    if not transactional:
        blocked = _marketing_blocked(s, desk, customer, email)
        if blocked:
            raise Invalid(
                f"template '{name}' is marketing and {blocked}; only transactional "
                "replies (crucial product or service information) may go to this address",
                field="template",
            )
        for shown, key in copies:
            if suppression.is_suppressed(s, desk, key):
                raise Invalid(f"template '{name}' is marketing and the Cc address "
                              f"{shown} is on the suppression list", field="cc")
    in_reply_to, references = _thread(s, case)
    return ReplyDraft(
        case_id=case.id or 0, template=name, language=language, transactional=transactional,
        from_address=desk_address(desk), to_address=email.address, to_name=customer.name,
        subject=subject, body=body, in_reply_to=in_reply_to, references=references,
        cc=tuple(shown for shown, _ in copies),
    )


def desk_address(desk: Desk) -> str:
    """The configured ``mail_from``, checked as one bare address (no DNS, test domains fine)."""
    raw = desk.settings.mail_from
    try:
        address = Address(addr_spec=raw)
    except (ValueError, IndexError):
        address = None
    if address is None or not address.username or "." not in address.domain:
        raise Invalid(f"config: mail_from '{raw}' is not an e-mail address like "
                      "info@example.com", field="mail_from")
    return address.addr_spec


def preview(
    desk: Desk, *, case_id: int, template: str, language: str | None = None,
    cc: Sequence[str] = (),
) -> ReplyDraft:
    """The reply as it would be written, for the agent to check. Audited as a view."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = load(s, case_id)
        draft, row = draft_template(s, desk, actor, case, template, language, cc)
        audit.record(s, desk, actor, "reply.preview", "case", case.id, template_id=row.id,
                     language=row.language)
        return draft


def mail_address(address: str, name: str | None = None) -> Address:
    """A header address from a checked e-mail address (and an optional display name)."""
    local, _, domain = address.rpartition("@")
    return Address(display_name=" ".join((name or "").split()), username=local, domain=domain)


def to_eml(draft: ReplyDraft, *, message_id: str, at: datetime) -> bytes:
    """The reply as a standard RFC 5322 message (CRLF line ends, UTF-8 body)."""
    msg = EmailMessage(policy=email_policy.default)
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(at)
    msg["From"] = Address(addr_spec=draft.from_address)
    msg["To"] = mail_address(draft.to_address, draft.to_name)
    if draft.cc:
        msg["Cc"] = [mail_address(a) for a in draft.cc]
    msg["Subject"] = draft.subject
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
        msg["References"] = " ".join(draft.references)
    msg.set_content(draft.body, charset="utf-8")
    msg["Content-Language"] = draft.language  # after set_content, which resets Content-*
    smtputf8 = not all(a.isascii() for a in (draft.to_address, draft.from_address, *draft.cc))
    return msg.as_bytes(policy=email_policy.SMTPUTF8 if smtputf8 else email_policy.SMTP)


def write(
    desk: Desk,
    *,
    case_id: int,
    template: str,
    out: Path | None = None,
    language: str | None = None,
    overwrite: bool = False,
    expected_version: int | None = None,
    cc: Sequence[str] = (),
) -> WrittenReply:
    """Render, write the .eml to ``out`` (when given) and record the reply on the case.

    The file is written inside the unit of work: if recording fails the file is removed again,
    and if writing fails nothing is recorded, so the case never claims a reply nobody has.
    """
    with kept_if_committed() as files, desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = load_for_change(s, case_id, expected_version)
        return record(s, desk, actor, case, template=template, out=out, language=language,
                      overwrite=overwrite, files=files, cc=cc)


@contextmanager
def kept_if_committed() -> Iterator[list[Path]]:
    """Files written inside a unit of work (paths appended to the yielded list) are removed
    again when it fails: open this before the session, so the commit happens inside it."""
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def record(
    s: Session, desk: Desk, actor: Agent, case: Case, *, template: str,
    out: Path | None = None, language: str | None = None, overwrite: bool = False,
    files: list[Path], cc: Sequence[str] = (),
) -> WrittenReply:
    """Render ``template`` for ``case``, record it as an outbound message with its history
    entry, and write the .eml to ``out``, all inside the caller's unit of work (a letter a
    step of a workflow sends goes in with that step). ``out`` joins ``files`` once written."""
    draft, row = draft_template(s, desk, actor, case, template, language, cc)
    return store(s, desk, actor, case, draft, out=out, overwrite=overwrite, files=files,
                 template_id=row.id)


def store(
    s: Session, desk: Desk, actor: Agent, case: Case, draft: ReplyDraft, *,
    out: Path | None, overwrite: bool = False, files: list[Path],
    recorded: ReplyDraft | None = None, **audited: object,
) -> WrittenReply:
    """Record ``draft`` on the case as an outbound message with its history entry and write
    its .eml to ``out`` (inside the caller's unit of work; ``audited``: ids for the audit).

    ``recorded``: what the case keeps of the letter when that must differ from what is sent
    (a letter written during an erasure is kept without the person's address and name)."""
    now = desk.now()
    message_id = make_msgid(domain=draft.from_address.rpartition("@")[2])
    eml = to_eml(draft, message_id=message_id, at=now)
    kept = recorded or draft
    message = Message(
        case_id=case.id, direction=MessageDirection.OUTBOUND, at=now,
        message_id=message_id, in_reply_to=kept.in_reply_to,
        references=" ".join(kept.references) or None,
        from_address=kept.from_address, to_address=kept.to_address or None,
        cc_address=", ".join(kept.cc) or None,
        subject=kept.subject, body=kept.body, author_id=actor.id,
        language=kept.language, created_at=now,
    )
    s.add(message)
    touch(case, now)
    s.add(case)
    s.add(CaseEvent(case_id=case.id, at=now, actor_id=actor.id, action="reply",
                    to_value=draft.template))
    s.flush()
    audit.record(s, desk, actor, "reply.write", "case", case.id, **audited,
                 language=draft.language, transactional=draft.transactional,
                 message_row_id=message.id, to_file=out is not None, cc=len(draft.cc))
    if out is not None:
        write_private(out, eml, force=overwrite)
        files.append(out)
    return WrittenReply(draft=draft, message_id=message_id, message_row_id=message.id or 0,
                        path=str(out) if out else None, case_version=case.version, eml=eml)
