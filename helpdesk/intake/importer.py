"""Turning parsed mail into desk records, a batch per unit of work.

Every message ends as exactly one of: a new case, a message on an existing case (reply or
reminder), an unmatched letter (unknown sender: its case opens at once, without a customer, so
its clock runs from receipt and it counts in every queue; an intake item asks an agent to link
it), machine mail kept without a case (auto-replies, bounces, and mail loops: mail from the
desk's own addresses), a quarantined intake item (raw bytes and a reason), or, for a letter an
erased person sent before their erasure, a done item that keeps nothing of it. Duplicates are
recognised by Message-ID, else by content hash, against the database and within the batch; the
unique constraints on both are the last guard, so a batch interrupted before its commit is
simply done again by the next run.

A reminder ("second request", "I wrote on 3 September ...") never opens a case and never
restarts a clock: it joins the request it chases (by thread headers, else the customer's open
case received on a date the letter names, else their open case of the same kind, else their
latest open one), flags that case, and escalates it to a supervisor when it arrives after the
deadline.

Erasure: the batch locks the customers its senders belong to (``FOR KEY SHARE``, which only an
erasure's or a merge's lock conflicts with) before it reads anything else, so an erasure either
waits for the batch and then erases what it filed, or runs first and the batch then sees the
person as erased: never attaches mail to them and keeps none of the letters they sent before
the request (which the erasure covers), treating later ones as from a suppressed unknown sender.

Speed: an import writes thousands of rows, so this module looks things up once per batch and
writes with Core statements instead of ORM objects (building a SQLModel object costs more than
inserting its row). Cases are opened with the same deadline and policy-version rules as
:func:`helpdesk.services.cases.new_case` (keep the two in step); the batch's single
``intake.import`` audit event lists the cases it opened.
"""

from __future__ import annotations

import bisect
import dataclasses
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesHeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from helpdesk import clock
from helpdesk.config import Settings
from helpdesk.db.models import (
    Agent,
    Attachment,
    Case,
    CaseEvent,
    Customer,
    CustomerEmail,
    ErasedAddress,
    IntakeItem,
    Message,
    PolicyVersion,
    RequestVerification,
)
from helpdesk.domain import OPEN_STATUSES, CaseKind, CaseStatus, DisputeStage, MessageDirection
from helpdesk.errors import Invalid
from helpdesk.intake.classify import Classification, classify, may_remind
from helpdesk.intake.parse import ParsedMail, Unreadable, content_hash, parse
from helpdesk.intake.sources import RawMessage
from helpdesk.services import audit, inbox, suppression, verification
from helpdesk.services.context import Desk
from helpdesk.services.validation import normalize_email

UNMATCHED = "unmatched"
QUARANTINED = "quarantined"
DONE = "done"
ITEM_STATES = (UNMATCHED, QUARANTINED, DONE)

#: Dates before this are clock errors (1970 epoch, two-digit years), not real receipt times.
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(minutes=5)
_CASE_TAG = re.compile(r"\[\s*case\s*#\s*(\d{1,12})\s*\]", re.IGNORECASE)
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
_RAW_MSG_ID = re.compile(rb"^message-id:\s*(<[^<>\s]{1,990}>)", re.IGNORECASE | re.MULTILINE)
_OPEN = [s.value for s in OPEN_STATUSES]

_CASES = Case.__table__
_MESSAGES = Message.__table__
_EVENTS = CaseEvent.__table__
_ITEMS = IntakeItem.__table__
_ATTACHMENTS = Attachment.__table__


def _awaiting_code(case_id: sa.ColumnElement[int]) -> sa.Exists:
    """Whether the case's requester was sent a code and is not verified yet."""
    return sa.exists().where(col(RequestVerification.case_id) == case_id,
                             col(RequestVerification.verified_at).is_(None))


@dataclass
class Counts:
    """What an import did, message by message."""

    new_cases: int = 0
    threaded: int = 0  # replies and reminders joined to an existing case
    unmatched: int = 0
    machine: int = 0
    duplicates: int = 0
    quarantined: int = 0
    erased: int = 0  # letters from erased people, sent before their erasure: not kept
    case_ids: list[int] = field(default_factory=list)  # cases opened
    item_ids: list[int] = field(default_factory=list)  # intake items created or changed

    def add(self, other: Counts) -> None:
        for name in ("new_cases", "threaded", "unmatched", "machine", "duplicates",
                     "quarantined", "erased"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.case_ids += other.case_ids
        self.item_ids += other.item_ids

    @property
    def imported(self) -> int:
        return self.new_cases + self.threaded + self.unmatched + self.machine

    @property
    def seen(self) -> int:
        return self.imported + self.duplicates + self.quarantined + self.erased


@dataclass(frozen=True, slots=True)
class Prepared:
    """One message read outside the database transaction (parsing is the slow part)."""

    raw: RawMessage
    content_hash: str
    mail: ParsedMail | None
    problem: str | None  # quarantine reason when ``mail`` is None
    #: Sender key and Date of unreadable mail, read best-effort from its headers alone.
    raw_sender: str | None = None
    raw_date: datetime | None = None


def attachment_withheld(content_type: str, size: int, truncated: bool,
                        settings: Settings) -> str | None:
    """Why an attachment's content is not kept (the configured limits), or None to keep it.
    A withheld attachment is still listed: name, type, size and checksum."""
    if truncated:
        return "only part of it arrived (the message was cut)"
    if size > settings.attachment_max_bytes:
        return (f"larger than the {settings.attachment_max_bytes:,} bytes the desk keeps "
                "(attachment_max_bytes)")
    kind = content_type.lower()
    if not any(fnmatch.fnmatchcase(kind, allowed) for allowed in settings.attachment_types):
        return f"type {kind} is not one the desk keeps (attachment_types)"
    return None


def prepare(raw: RawMessage, *, lenient: bool = False) -> Prepared:
    try:
        mail = parse(raw.raw, lenient=lenient)
    except Unreadable as exc:
        return Prepared(raw, content_hash(raw.raw), None, exc.reason, *_raw_sender(raw.raw))
    return Prepared(raw, mail.content_hash, mail, None)


def _raw_sender(raw: bytes) -> tuple[str | None, datetime | None]:
    """From and Date of a message the parser refused, or None where they cannot be read."""
    try:
        headers = BytesHeaderParser().parsebytes(raw[:65536])
        _, address = parseaddr(str(headers.get("From", "")))
        key = normalize_email(address)[1] if address else None
    except Exception:  # hostile headers: the message stays quarantined without a sender
        key = None
        headers = None
    try:
        when = parsedate_to_datetime(str(headers.get("Date"))) if headers else None
    except Exception:
        when = None
    return key, (when if when is None or when.tzinfo else None)


RECEIVED_HEADER = "Received header"
DATE_HEADER = "Date header (no receipt time in the mail)"
IMPORT_TIME = "import time (no usable receipt time)"


def received_time(
    mail: ParsedMail, raw: RawMessage, now: datetime, notes: list[str]
) -> tuple[datetime, str]:
    """When the mail reached the company, and which record says so.

    The topmost Received header (our own server's hop) first, then the mailbox's delivery
    time (mbox From line, Maildir), then the sender's Date header, which the sender controls,
    and only then the import time. A missing, future or implausible time is skipped, noted.
    """
    candidates = ((mail.received, RECEIVED_HEADER),
                  (raw.delivered, raw.delivered_by or "mailbox delivery time"),
                  (mail.date, DATE_HEADER))
    for when, source in candidates:
        if when is None:
            continue
        if when > now + FUTURE_SLACK:
            notes.append(f"{source.split(' (')[0]} {when:%Y-%m-%d %H:%M} UTC is in the future; "
                         "not used")
        elif when < EARLIEST_PLAUSIBLE:
            notes.append(f"{source.split(' (')[0]} {when:%Y-%m-%d} is implausible; not used")
        else:
            return when, source
    notes.append("received time set to the import time: the mail says no usable time")
    return now, IMPORT_TIME


def _id_forms(ids: Sequence[str]) -> list[str]:
    """Message ids with and without angle brackets, whichever way a row stored them."""
    return [form for i in ids for form in (i, i.strip("<>"))]


def _bracketed(mid: str) -> str:
    return mid if mid.startswith("<") else f"<{mid}>"


@dataclass
class _OpenCase:
    id: int
    kinds: tuple[str, ...]  # the case's kind, then every kind its letter asked
    received_at: datetime


def own_addresses(desk: Desk) -> frozenset[str]:
    """Matching keys of the desk's own addresses (``mail_from`` and ``mail_aliases``)."""
    keys = set()
    for address in (desk.settings.mail_from, *desk.settings.mail_aliases):
        try:
            keys.add(normalize_email(parseaddr(address)[1] or address)[1])
        except Invalid:
            continue  # a broken mail_from is reported where replies are written
    return frozenset(keys)


class BatchImporter:
    """Files messages inside the caller's unit of work, with batched look-ups and writes."""

    def __init__(self, s: Session, desk: Desk, actor: Agent) -> None:
        self.s, self.desk, self.actor = s, desk, actor
        self.db = s.connection()  # Core statements skip the ORM's per-statement overhead
        self.counts = Counts()
        self.now = desk.now()
        self._thread_ids: dict[str, int | None] = {}  # message id -> case id
        self._owners: dict[str, int] = {}  # sender key -> customer id
        self._tagged: dict[int, int | None] = {}  # tagged case id -> its customer id
        self._open: dict[int, list[_OpenCase]] = {}  # customer id -> open cases (open_cases)
        self._own = own_addresses(desk)
        #: (effective on, id, periods) of every version, loaded once per batch
        self._policies: list[tuple[date, int | None, dict[str, int]]] | None = None
        self._hashes: dict[str, str] = {}  # sender key or quoted address -> keyed hash
        self._erased: dict[str, tuple[int, datetime]] = {}  # hash -> (ledger id, requested)
        self._events: list[dict[str, Any]] = []
        self._attachments: list[dict[str, Any]] = []
        self._touched: set[int] = set()  # existing cases that received mail
        #: existing requests whose requester has a code but is not verified yet: a reply on
        #: one of them is checked for the code (see helpdesk.services.verification)
        self._awaiting: set[int] = set()
        self._woken: set[int] = set()  # ... of which a customer replied to a waiting case

    # --- look-ups, once per batch ----------------------------------------------------------

    def load(self, batch: Sequence[Prepared]) -> None:
        """Look up, for the whole batch at once, threads, senders, tagged and open cases."""
        mails = [p.mail for p in batch if p.mail]
        keys = {m.sender_key for m in mails if m.sender_key}
        keys |= {p.raw_sender for p in batch if p.raw_sender}
        quoted = {a.casefold() for m in mails for text in (m.to, m.subject, m.body) if text
                  for a in _ADDRESS.findall(text)}
        if keys or quoted:
            # First, and locked: an erasure of one of these people waits for this batch, or
            # this batch for it (and then finds them erased below).
            self._owners.update(self.s.exec(
                select(CustomerEmail.normalized, CustomerEmail.customer_id)
                .join(Customer, col(Customer.id) == col(CustomerEmail.customer_id))
                .where(col(CustomerEmail.normalized).in_(keys), col(Customer.erased_at).is_(None))
                .with_for_update(read=True, key_share=True, of=Customer)
            ).all())
            self._hashes = {k: suppression.email_hash(self.desk, k) for k in keys | quoted}
            for ledger_id, digest, requested in self.s.exec(
                select(ErasedAddress.erasure_id, ErasedAddress.email_hash,
                       ErasedAddress.requested_at)
                .where(col(ErasedAddress.email_hash).in_(set(self._hashes.values())))
                .order_by(col(ErasedAddress.requested_at))
            ):
                self._erased[digest] = (ledger_id, requested)
        refs = {r for m in mails for r in m.references}
        if refs:
            for mid, case_id in self.s.exec(
                select(Message.message_id, Message.case_id)
                .where(col(Message.message_id).in_(_id_forms(sorted(refs))))
            ):
                if mid:
                    self._thread_ids[_bracketed(mid)] = case_id
        tags = {int(t) for m in mails if m.subject for t in _CASE_TAG.findall(m.subject)}
        if tags:  # with whether each awaits its requester's code (see _awaiting)
            for case_id, customer_id, awaiting in self.s.exec(
                select(Case.id, Case.customer_id, _awaiting_code(col(Case.id)))
                .where(col(Case.id).in_(tags))
            ):
                self._tagged[case_id or 0] = customer_id
                if awaiting:
                    self._awaiting.add(case_id or 0)
        threads = {c for c in self._thread_ids.values() if c is not None} - tags
        if threads:
            self._awaiting.update(self.s.exec(
                select(Case.id).where(col(Case.id).in_(threads), _awaiting_code(col(Case.id)))
            ).all())

    def open_cases(self, customer_id: int) -> list[_OpenCase]:
        """The customer's open cases, oldest first: where their reminders belong. Looked up
        when a reminder needs them (reminders are few), then kept up to date by this batch."""
        if customer_id not in self._open:
            self._open[customer_id] = [
                _OpenCase(case_id or 0, tuple(dict.fromkeys([kind, *(
                    r.get("kind") for r in (stored or {}).get("requests") or ())])), received)
                for case_id, kind, received, stored in self.s.exec(
                    select(Case.id, Case.kind, Case.received_at, Case.classification)
                    .where(Case.customer_id == customer_id, col(Case.status).in_(_OPEN))
                    .order_by(col(Case.received_at), col(Case.id)))
            ]
        return self._open[customer_id]

    def known(
        self, ids: Sequence[str], hashes: Sequence[str], *, items: bool = True
    ) -> tuple[set[str], set[str]]:
        """Which of these message ids and content hashes the desk already holds (in messages,
        and with ``items`` also in quarantined intake items)."""
        wanted = [sa.select(sa.literal("id"), _MESSAGES.c.message_id)
                  .where(_MESSAGES.c.message_id.in_(_id_forms(ids))),
                  sa.select(sa.literal("hash"), _MESSAGES.c.content_hash)
                  .where(_MESSAGES.c.content_hash.in_(hashes))]
        if items:
            wanted += [sa.select(sa.literal("id"), _ITEMS.c.message_id_header)
                       .where(_ITEMS.c.message_id_header.in_(ids)),
                       sa.select(sa.literal("hash"), _ITEMS.c.content_hash)
                       .where(_ITEMS.c.content_hash.in_(hashes))]
        known_ids: set[str] = set()
        known_hashes: set[str] = set()
        if ids or hashes:  # one statement: every kind of duplicate is asked at once
            for kind, value in self.db.execute(sa.union_all(*wanted)):
                if value and kind == "id":
                    known_ids.add(_bracketed(value))
                elif value:
                    known_hashes.add(value)
        return known_ids, known_hashes

    def duplicate(self, mail: ParsedMail) -> bool:
        """Whether this message was already imported as a message (quarantine not counted)."""
        ids, hashes = self.known([mail.message_id] if mail.message_id else [],
                                 [mail.content_hash], items=False)
        return bool(ids or hashes)

    # --- the batch ---------------------------------------------------------------------------

    def run(self, batch: Sequence[Prepared]) -> None:
        """Import a batch and audit it (counts and ids only)."""
        known_ids, known_hashes = self.known(
            sorted({p.mail.message_id for p in batch if p.mail and p.mail.message_id}),
            sorted({p.content_hash for p in batch}),
        )
        self.load(batch)
        for p in batch:
            mid = p.mail.message_id if p.mail else None
            if (mid and mid in known_ids) or p.content_hash in known_hashes:
                self.counts.duplicates += 1
                continue
            known_hashes.add(p.content_hash)
            if mid:
                known_ids.add(mid)
            if p.mail is None:
                self.quarantine(p, p.problem or "unreadable message")
                continue
            try:
                self.take(p.mail, p.raw)
            except sa.exc.SQLAlchemyError:
                raise  # the database's problem, not the message's: the batch is retried
            except Exception as exc:  # one odd message must not stop the import
                self.quarantine(p, f"could not be filed ({type(exc).__name__}); "
                                   "re-process it after an upgrade")
        self.write()
        c = self.counts
        audit.record(self.s, self.desk, self.actor, "intake.import", "intake", None,
                     new_cases=c.new_cases, threaded=c.threaded, unmatched=c.unmatched,
                     machine=c.machine, duplicates=c.duplicates, quarantined=c.quarantined,
                     case_ids=c.case_ids, item_ids=c.item_ids)

    def quarantine(self, p: Prepared, reason: str) -> None:
        sender = p.raw_sender or (p.mail.sender_key if p.mail else None)
        when = p.mail.date if p.mail else p.raw_date
        if self._drop_erased(sender, when, p.content_hash, what="an unreadable letter"):
            return
        header = _RAW_MSG_ID.search(p.raw.raw[:65536])
        self._item(None, state=QUARANTINED, reason=reason, raw=p.raw.raw,
                   content_hash=p.content_hash, source=p.raw.source,
                   sender_hash=self._hashes.get(sender) if sender else None,
                   message_id_header=header.group(1).decode("ascii", "replace")
                   if header else None)
        self.counts.quarantined += 1

    def _drop_erased(self, sender: str | None, when: datetime | None, digest: str, *,
                     what: str) -> bool:
        """Keep nothing of a letter an erased person sent before (or, undated, at any time
        before) their erasure: it is part of what they asked us to delete. Only a PII-free done
        item stays, so a later import of the same mailbox skips it as a duplicate."""
        sender_hash = self._hashes.get(sender) if sender else None
        erased = self._erased.get(sender_hash) if sender_hash else None
        if erased is None or (when is not None and when > erased[1]):
            return False
        self._item(None, state=DONE, reason=f"{what} from a person erased under ledger "
                   f"#{erased[0]}, sent before the erasure: not kept", content_hash=digest,
                   sender_hash=sender_hash, resolved_at=self.now)
        self.counts.erased += 1
        return True

    # --- one message ------------------------------------------------------------------------

    def take(self, mail: ParsedMail, raw: RawMessage, item: IntakeItem | None = None) -> None:
        """File one readable message; ``item`` is the intake item being re-processed, if any."""
        notes = list(mail.notes)
        at, received_by = received_time(mail, raw, self.now, notes)
        written = mail.received or raw.delivered or mail.date  # any time the mail itself gives
        if item is None and self._drop_erased(mail.sender_key, written, mail.content_hash,
                                              what="a letter"):
            return
        if mail.sender_key in self._own and not mail.machine:
            mail = dataclasses.replace(mail, machine="mail loop: sent from the desk's own address")
        owner = self._owners.get(mail.sender_key) if mail.sender_key else None
        case_id = self._thread(mail, owner)
        # a reply joins its thread whatever it says: it is read only if it may be a reminder
        read = not mail.machine and (case_id is None or may_remind(mail.subject, mail.body))
        result = classify(mail.subject, mail.body,
                          received=clock.local_date(at, self.desk.settings.tz)) if read else None
        if case_id is None and result and result.reminder and owner is not None:
            case_id = self.reminded(owner, result, at)
        opened = False
        if case_id is not None:
            reminder = bool(result and result.reminder)
            self.joined(case_id, "reminder" if reminder else "reply", machine=mail.machine)
            if reminder:
                self.remind(case_id, at)
            self.counts.threaded += 1
        elif not mail.machine and result is not None:
            case_id = self.open_case(owner, mail.subject, result, at, received_by, notes)
            opened = True
        message_id = self._message(mail, at, case_id)
        if case_id in self._awaiting and not opened and not mail.machine and \
                verification.check_reply(self.s, self.desk, case_id, message_id, self.actor):
            self._awaiting.discard(case_id)
        if mail.machine and case_id is None:
            self.counts.machine += 1
            self._item(item, state=DONE, reason=f"machine mail ({mail.machine}): no case opened",
                       message_id=message_id, source=raw.source, resolved_at=self.now)
        elif opened and owner is None:
            self.counts.unmatched += 1
            self._item(item, state=UNMATCHED, reason=self._unmatched_reason(mail),
                       message_id=message_id, source=raw.source)
        elif item is not None and case_id is not None:
            self._resolve(item, case_id)
        if mail.message_id:
            self._thread_ids[mail.message_id] = case_id

    def _thread(self, mail: ParsedMail, owner: int | None) -> int | None:
        """The case a reply belongs to: In-Reply-To/References first, then a [Case #N] tag
        when that case is the sender's own (a tag alone is easy to copy into a new letter)."""
        for ref in reversed(mail.references):
            case_id = self._thread_ids.get(ref)
            if case_id is not None:
                return case_id
        if mail.subject and owner is not None:
            for tag in _CASE_TAG.findall(mail.subject):
                if int(tag) in self._tagged and self._tagged[int(tag)] == owner:
                    return int(tag)
        return None

    def _unmatched_reason(self, mail: ParsedMail) -> str:
        if mail.sender_key is None:
            return "no usable sender address: " + "; ".join(mail.notes[:3])
        if suppression.is_suppressed(self.s, self.desk, mail.sender_key):
            return ("sender is on the suppression list (opted out or erased): link or create a "
                    "customer only for what this request needs")
        return "unknown sender: link to a customer or create one"

    def reminded(self, customer_id: int, result: Classification, at: datetime) -> int | None:
        """The customer's open case a reminder chases: one received on a date the letter names
        (a day either way: the writer counts by their own clock), else the latest of the kind
        it names, else, when it names none, their latest open request (a question last)."""
        earlier = [c for c in self.open_cases(customer_id) if c.received_at <= at]
        if not earlier:
            return None
        tz = self.desk.settings.tz
        kind = result.primary.value if result.primary else None
        asked = kind is not None and kind != CaseKind.QUESTION.value
        for mentioned in result.mentions:
            dated = [c for c in earlier
                     if abs((clock.local_date(c.received_at, tz) - mentioned).days) <= 1]
            if dated:
                same = [c for c in dated if kind in c.kinds]
                return (same or dated)[-1].id
        same = [c for c in earlier if kind in c.kinds]
        if same:
            return same[-1].id
        if asked:
            return None
        requests = [c for c in earlier if c.kinds[0] != CaseKind.QUESTION.value]
        return (requests or earlier)[-1].id

    def remind(self, case_id: int, at: datetime) -> None:
        """Flag a case a reminder arrived for (its clock is left alone) and tell its agent;
        after its deadline the case is escalated to the supervisors."""
        row = self.db.execute(
            sa.select(_CASES.c.due_at, _CASES.c.closed_at, _CASES.c.escalated, _CASES.c.kind,
                      _CASES.c.assignee_id, _CASES.c.classification)
            .where(_CASES.c.id == case_id)
        ).one()
        late = row.closed_at is None and at >= row.due_at
        stored = dict(row.classification or {})
        stored["reminders"] = [*stored.get("reminders", ()), at.isoformat()]
        values: dict[str, Any] = {"classification": stored}
        self._events.append(self._event(
            case_id, "reminder", to_value="after the deadline" if late else "within the deadline",
            note="the customer sent a reminder; the clock runs from the first letter"))
        label = inbox.case_label(case_id, row.kind)
        inbox.notify(self.s, self.desk, kind=inbox.NoticeKind.REMINDER, case_id=case_id,
                     to=[row.assignee_id], text=f"{label}: the customer sent a reminder"
                     + (" after the deadline" if late else ""))
        if late and not row.escalated:
            values["escalated"] = True
            self._events.append(self._event(
                case_id, "escalated", note="a reminder arrived after the deadline"))
            inbox.notify(self.s, self.desk, kind=inbox.NoticeKind.ESCALATED, case_id=case_id,
                         supervisors=True, key=f"late-reminder-{case_id}",
                         text=f"{label} was escalated: a reminder arrived after the deadline")
        self.db.execute(sa.update(_CASES).where(_CASES.c.id == case_id).values(**values))

    def open_case(
        self, customer_id: int | None, subject: str | None, result: Classification,
        at: datetime, received_by: str, notes: list[str],
    ) -> int:
        """Open a case for a letter, clocked from its receipt; ``customer_id`` None is a letter
        from an unknown sender, waiting in the intake tray to be linked."""
        kind = result.primary or CaseKind.QUESTION
        version_id, periods = self._policy_version(at)
        deadline = clock.earliest_deadline((kind, *result.clock_kinds), at, self.desk.settings,
                                           periods)
        case_id = self.db.execute(sa.insert(_CASES).returning(_CASES.c.id), {
            "kind": kind.value, "status": CaseStatus.NEW.value, "subject": subject,
            "customer_id": customer_id, "received_at": at, "due_at": deadline.effective,
            "policy_due_at": deadline.policy, "due_rule": deadline.rule,
            "rule_due_at": deadline.effective, "policy_version_id": version_id,
            "dispute_stage": DisputeStage.RECEIVED.value if kind is CaseKind.DISPUTE else None,
            "suggested_kind": result.primary.value if result.primary else None,
            "classification": {**result.as_json(), "confirmed": False, "notes": notes,
                               "received_by": received_by},
            "created_by_id": self.actor.id, "created_at": self.now, "updated_at": self.now,
        }).scalar_one()
        self._events.append(self._event(case_id, "created", to_value=kind.value))
        if customer_id is not None:
            if customer_id in self._open:
                self._open[customer_id].append(_OpenCase(case_id, tuple(dict.fromkeys(
                    [kind.value, *(r.kind.value for r in result.requests)])), at))
            self.counts.new_cases += 1
        self.counts.case_ids.append(case_id)
        return case_id

    def _policy_version(self, at: datetime) -> tuple[int | None, dict[str, int] | None]:
        """The version in force on the receipt day and its periods (the rule of
        ``policy.deadline_for``, over the few versions loaded once per batch instead of a query
        per case)."""
        if self._policies is None:
            self._policies = list(self.s.exec(
                select(PolicyVersion.effective_on, PolicyVersion.id, PolicyVersion.periods)
                .order_by(col(PolicyVersion.effective_on))
            ).all())
        day = clock.local_date(at, self.desk.settings.tz)
        index = bisect.bisect_right([d for d, _, _ in self._policies], day)
        if not index:
            return None, None
        _, version_id, periods = self._policies[index - 1]
        return version_id, periods

    def _message(self, mail: ParsedMail, at: datetime, case_id: int | None) -> int:
        message_id = self.db.execute(sa.insert(_MESSAGES).returning(_MESSAGES.c.id), {
            "case_id": case_id, "direction": MessageDirection.INBOUND.value, "at": at,
            "message_id": mail.message_id, "in_reply_to": mail.in_reply_to,
            "references": " ".join(mail.references) if mail.references else None,
            "content_hash": mail.content_hash, "from_address": mail.sender,
            "to_address": self._scrub(mail.to), "cc_address": self._scrub(mail.cc),
            "subject": self._scrub(mail.subject),
            "body": self._scrub(mail.body),
            "is_machine": mail.machine is not None, "created_at": self.now,
        }).scalar_one()
        for a in mail.attachments:
            withheld = attachment_withheld(a.content_type, a.size, a.truncated,
                                           self.desk.settings)
            self._attachments.append({
                "message_id": message_id, "filename": a.filename,
                "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
                "content": None if withheld else a.content, "truncated": a.truncated,
                "withheld": withheld})
        return message_id

    def _scrub(self, text: str | None) -> str | None:
        """``text`` without the addresses of erased people (a letter copying or quoting one):
        the desk never stores an erased address again, whoever writes it."""
        if not text or not self._erased:
            return text

        def erased(match: re.Match[str]) -> str:
            digest = self._hashes.get(match.group().casefold())
            return "[erased]" if digest in self._erased else match.group()

        return _ADDRESS.sub(erased, text)

    def _event(self, case_id: int, action: str, *, from_value: str | None = None,
               to_value: str | None = None, note: str | None = None) -> dict[str, Any]:
        return {"case_id": case_id, "at": self.now, "actor_id": self.actor.id, "action": action,
                "from_value": from_value, "to_value": to_value, "note": note}

    def joined(self, case_id: int, how: str, machine: str | None = None) -> None:
        """Record that mail arrived on a case; a customer's reply wakes a waiting case."""
        self._events.append(self._event(
            case_id, "inbound", to_value=how, note=f"machine mail: {machine}" if machine else None
        ))
        self._touched.add(case_id)
        if not machine:
            self._woken.add(case_id)

    def _item(self, item: IntakeItem | None, **values: Any) -> None:
        values.setdefault("raw", None)
        if item is None:
            values["created_at"] = self.now
            item_id = self.db.execute(sa.insert(_ITEMS).returning(_ITEMS.c.id),
                                     values).scalar_one()
        else:
            values.pop("source", None)
            for name, value in values.items():
                setattr(item, name, value)
            self.s.add(item)
            self.s.flush()
            item_id = item.id or 0
        self.counts.item_ids.append(item_id)

    def _resolve(self, item: IntakeItem, case_id: int) -> None:
        item.state = DONE
        item.raw = None
        item.resolved_at = self.now
        item.resolved_case_id = case_id
        self.s.add(item)
        self.counts.item_ids.append(item.id or 0)

    def _bump(self, case_ids: list[int]) -> None:
        """Give the cases that got mail a new version (anyone editing one sees that mail
        arrived) and open those waiting on a customer who answered: one write per case, after
        reading their status locked, so the history says exactly which ones it opened."""
        rows = self.db.execute(
            sa.select(_CASES.c.id, _CASES.c.status, _CASES.c.assignee_id, _CASES.c.kind)
            .where(_CASES.c.id.in_(case_ids)).with_for_update(key_share=True)
        ).all()
        waiting = [r for r in rows
                   if r.id in self._woken and r.status == CaseStatus.WAITING.value]
        values: dict[str, Any] = {"version": _CASES.c.version + 1, "updated_at": self.now}
        if waiting:
            values["status"] = sa.case((_CASES.c.id.in_([r.id for r in waiting]),
                                        CaseStatus.OPEN.value), else_=_CASES.c.status)
        self.db.execute(sa.update(_CASES).where(_CASES.c.id.in_(case_ids)).values(**values))
        self._events += [self._event(r.id, "status", from_value=CaseStatus.WAITING.value,
                                     to_value=CaseStatus.OPEN.value, note="customer replied")
                         for r in waiting]
        for r in waiting:
            inbox.notify(self.s, self.desk, kind=inbox.NoticeKind.REPLY, case_id=r.id,
                         to=[r.assignee_id], text=f"{inbox.case_label(r.id, r.kind)}: the "
                         "customer answered while it was waiting on them (a verification or "
                         "document may have arrived)")
        # ORM copies of these cases in this session are now stale
        for obj in list(self.s.identity_map.values()):
            if isinstance(obj, Case) and obj.id in self._touched:
                self.s.expire(obj)

    def write(self) -> None:
        """Write what was collected and give the cases that got mail a new version."""
        if self._attachments:
            self.db.execute(sa.insert(_ATTACHMENTS), self._attachments)
        if self._touched:
            self._bump(sorted(self._touched))
        if self._events:
            self.db.execute(sa.insert(_EVENTS), self._events)
        self._attachments, self._events = [], []
        self._touched, self._woken = set(), set()
