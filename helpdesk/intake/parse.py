"""One raw message in, the few things the desk needs out, whatever the mail looks like.

Parsing is deliberately lazy and forgiving: the stdlib's ``compat32`` parser (no header objects
are built, nothing raises on odd headers), encoded words and charsets decoded by hand with
replacement for anything unknown, and only the parts the desk shows decoded at all. Anything
that still cannot be read raises :class:`Unreadable` with a reason an agent can act on; the
importer quarantines the raw bytes under that reason.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from helpdesk.errors import Invalid
from helpdesk.intake.html import html_to_text
from helpdesk.intake.machine import machine_reason
from helpdesk.services.validation import normalize_email

MAX_MESSAGE_BYTES = 25 * 1024 * 1024  # the usual mail-server limit; more is quarantined
MAX_BODY_CHARS = 100_000
ATTACHMENT_CAP = 1024 * 1024  # bytes of an attachment's content kept in the database
MAX_REFERENCES = 50
MAX_MIME_DEPTH = 20
_MB = 1024 * 1024

_PARSER = BytesParser(policy=policy.compat32)
_MSG_ID = re.compile(r"<([^<>\s]{1,990})>")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_MAIN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID")


class Unreadable(Exception):
    """The message cannot be understood; ``reason`` says why, for the quarantine list."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AttachmentPart:
    filename: str | None
    content_type: str
    size: int
    sha256: str
    content: bytes  # at most ATTACHMENT_CAP bytes
    truncated: bool


@dataclass(frozen=True, slots=True)
class ParsedMail:
    content_hash: str
    message_id: str | None  # "<id>" as in the header
    in_reply_to: str | None
    references: tuple[str, ...]  # every message id this one answers, newest last
    sender: str | None  # display form of the From address
    sender_key: str | None  # normalised key for matching and suppression
    sender_name: str | None
    to: str | None
    subject: str | None
    date: datetime | None
    body: str
    attachments: tuple[AttachmentPart, ...]
    machine: str | None  # why this is machine mail, None for a person's letter
    #: What the parser had to work around (charset names, defects, truncation): no personal data.
    notes: tuple[str, ...] = field(default=())


def content_hash(raw: bytes) -> str:
    """Identity of a message without a Message-ID; line endings do not count (mbox vs .eml)."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def clean(text: str, limit: int) -> str:
    """Control characters out, line breaks unified, at most ``limit`` characters.

    The bulk counterpart of :func:`helpdesk.services.validation.clean_text` for imported mail:
    one regular expression instead of a per-character loop, and it truncates rather than
    refusing, because a customer's letter is never "too long" to keep.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > limit:
        text = text[:limit]
    return _CONTROL.sub(lambda m: "" if m.group() == "\x00" else " ", text).strip()


def decode_bytes(data: bytes, charset: str | None, notes: list[str]) -> str:
    """Bytes in a declared charset; unknown or wrong charsets decode with replacement."""
    name = (charset or "").strip().strip('"').lower()
    if not name or name in {"us-ascii", "ascii", "unknown-8bit", "x-unknown"}:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")
    try:
        codecs.lookup(name)
    except (LookupError, ValueError):
        notes.append(f"unknown charset '{clean(name, 40)}' decoded with replacement characters")
        return data.decode("utf-8", errors="replace")
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        notes.append(f"text not valid {name}; undecodable bytes replaced")
        return data.decode(name, errors="replace")


def decode_words(value: object, notes: list[str]) -> str:
    """A header value with RFC 2047 encoded words decoded; raw 8-bit text read as UTF-8."""
    text = str(value)
    if "=?" not in text:
        return text
    try:
        chunks = decode_header(text)
    except Exception:  # the stdlib raises on some malformed encoded words
        notes.append("malformed encoded-word header left as written")
        return text
    return "".join(
        c if isinstance(c, str) else decode_bytes(c, charset, notes) for c, charset in chunks
    )


def _header(msg: Message, name: str, notes: list[str]) -> str | None:
    values = msg.get_all(name)
    if not values:
        return None
    if len(values) > 1 and name in _MAIN_HEADERS:
        notes.append(f"{len(values)} {name} headers; the first was used")
    return decode_words(values[0], notes)


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    return [f"<{m}>" for m in _MSG_ID.findall(value)]


def _date(value: str | None, notes: list[str]) -> datetime | None:
    if not value:
        notes.append("no Date header")
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        notes.append("unreadable Date header")
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _sender(value: str | None, notes: list[str]) -> tuple[str | None, str | None, str | None]:
    """(display address, matching key, display name) of the first usable From address."""
    if not value:
        notes.append("no From header")
        return None, None, None
    try:
        pairs = getaddresses([value])
    except Exception:
        pairs = []
    for name, address in pairs:
        if "@" not in address:
            continue
        try:
            shown, key = normalize_email(address)
        except Invalid:
            notes.append("From address is not a valid e-mail address")
            return None, None, None
        return shown, key, clean(name, 200) or None
    notes.append("no address in the From header")
    return None, None, None


@dataclass
class _Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[AttachmentPart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _attachment(part: Message, payload: bytes, notes: list[str]) -> AttachmentPart:
    try:
        filename = part.get_filename()
    except Exception:
        filename = None
    return AttachmentPart(
        filename=clean(decode_words(filename, notes), 500) or None if filename else None,
        content_type=part.get_content_type()[:255],
        size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        content=payload[:ATTACHMENT_CAP],
        truncated=len(payload) > ATTACHMENT_CAP,
    )


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _collect(part: Message, acc: _Parts, depth: int = 0) -> None:
    if depth > MAX_MIME_DEPTH:
        acc.notes.append("MIME parts nested too deeply; the inner ones were skipped")
        return
    ctype = part.get_content_type()
    if ctype == "message/rfc822" or (ctype.startswith("message/") and part.is_multipart()):
        inner = part.get_payload()
        data = b"".join(m.as_bytes() for m in inner if isinstance(m, Message)) if isinstance(
            inner, list) else _payload(part)
        acc.attachments.append(_attachment(part, data, acc.notes))
        return
    if part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                _collect(sub, acc, depth + 1)
        return
    payload = _payload(part)
    disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
    textual = ctype in {"text/plain", "text/html"} or ctype.startswith("multipart/")
    if disposition == "attachment" or not textual:
        acc.attachments.append(_attachment(part, payload, acc.notes))
        return
    if ctype.startswith("multipart/"):  # declared multipart, but no usable boundary
        acc.notes.append("broken MIME structure: the body was read as plain text")
    text = decode_bytes(payload, part.get_content_charset(), acc.notes)
    (acc.html if ctype == "text/html" else acc.plain).append(text)


def parse(raw: bytes, *, lenient: bool = False) -> ParsedMail:
    """Read ``raw``. ``lenient`` (used when an agent re-processes a quarantined message)
    imports an over-size message with its text truncated instead of refusing it."""
    notes: list[str] = []
    if len(raw) > MAX_MESSAGE_BYTES:
        if not lenient:
            raise Unreadable(
                f"message is {len(raw) / _MB:.1f} MB, over the {MAX_MESSAGE_BYTES // _MB} MB "
                "the importer reads; re-process it to import a truncated copy"
            )
        notes.append(f"over-size message ({len(raw) / _MB:.1f} MB) imported truncated")
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception as exc:
        raise Unreadable(f"the mail parser failed: {type(exc).__name__}") from exc
    if not any(msg.get(name) is not None for name in _MAIN_HEADERS):
        raise Unreadable("no mail headers found (From, To, Subject, Date, Message-ID): "
                         "this does not look like an e-mail message")
    try:
        return _read(msg, raw, notes)
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable(f"could not read the message structure: {type(exc).__name__}") from exc


def _read(msg: Message, raw: bytes, notes: list[str]) -> ParsedMail:
    sender, sender_key, sender_name = _sender(_header(msg, "From", notes), notes)
    ids = _message_ids(_header(msg, "Message-ID", notes))
    reply_to = _message_ids(_header(msg, "In-Reply-To", notes))
    references = _message_ids(_header(msg, "References", notes))
    refs = tuple(dict.fromkeys(references + reply_to))[-MAX_REFERENCES:]
    parts = _Parts(notes=notes)
    _collect(msg, parts)
    if parts.plain:
        body = "\n\n".join(parts.plain)
    elif parts.html:
        body = html_to_text("\n".join(parts.html))
        notes.append("HTML-only message: readable text extracted")
    else:
        body = ""
    if len(body) > MAX_BODY_CHARS:
        notes.append(f"body truncated to {MAX_BODY_CHARS} characters")
    for defect in msg.defects:
        notes.append(f"MIME defect: {type(defect).__name__}")
    subject = _header(msg, "Subject", notes)
    to = _header(msg, "To", notes)
    return ParsedMail(
        content_hash=content_hash(raw),
        message_id=ids[0] if ids else None,
        in_reply_to=reply_to[0] if reply_to else None,
        references=refs,
        sender=sender,
        sender_key=sender_key,
        sender_name=sender_name,
        to=clean(to, 2000) or None if to else None,
        subject=clean(subject, 500) or None if subject else None,
        date=_date(_header(msg, "Date", notes), notes),
        body=clean(body, MAX_BODY_CHARS),
        attachments=tuple(parts.attachments),
        machine=machine_reason(msg, sender_key),
        notes=tuple(dict.fromkeys(notes)),
    )
