"""One raw message in, the few things the desk needs out, whatever the mail looks like.

Parsing is deliberately lazy and forgiving: the stdlib's ``compat32`` parser (no header objects
are built, nothing raises on odd headers), encoded words and charsets decoded by hand, and only
the parts the desk shows decoded at all. Three guards keep hostile mail readable:

* only character sets decode text: a label naming another codec (``rot13``, ``base64``,
  ``zlib``, ``idna`` ...) is treated as unknown, the text is read as UTF-8 with stray bytes
  taken as Windows-1252/Latin-1, and the part's raw bytes are kept as an attachment;
* forwarded messages (``message/*`` parts) are never parsed inside: each is kept whole as an
  opaque attachment, and multiparts nested deeper than :data:`MAX_MIME_DEPTH` are kept the
  same way, so no nesting can exhaust the parser's recursion;
* the parser never sees more than :data:`SEGMENT_BYTES` of any one part: longer parts are cut
  at a line end before parsing (and noted), so reading a letter costs a small, fixed multiple
  of its size however big one attachment is.

Anything that still cannot be read raises :class:`Unreadable` with a reason an agent can act
on; the importer quarantines the raw bytes under that reason.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.feedparser import BytesFeedParser
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

from helpdesk.errors import Invalid
from helpdesk.intake.html import html_to_text
from helpdesk.intake.machine import machine_reason
from helpdesk.services.validation import normalize_email

MAX_MESSAGE_BYTES = 25 * 1024 * 1024  # the usual mail-server limit; more is quarantined
MAX_BODY_CHARS = 100_000
#: Bytes of an attachment's content the parser keeps: all of it (no attachment outgrows its
#: message); what the desk stores is the importer's decision, by the configured limits.
ATTACHMENT_CAP = MAX_MESSAGE_BYTES
MAX_REFERENCES = 50
MAX_MIME_DEPTH = 20
#: Bytes of one MIME part (between two lines starting with "--") handed to the parser: enough
#: for the text the desk keeps (MAX_BODY_CHARS) and an attachment's stored copy (ATTACHMENT_CAP,
#: base64-encoded), whatever the part's size.
SEGMENT_BYTES = 2 * 1024 * 1024
_FEED_BYTES = 64 * 1024  # slices in which a message is hashed and handed to the parser
_MB = 1024 * 1024

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
    cc: str | None  # every Cc header's addresses, joined (decoded like To)
    subject: str | None
    date: datetime | None  # the sender's Date header: the sender controls it
    received: datetime | None  # the topmost Received header's date: the last hop, ours
    body: str
    attachments: tuple[AttachmentPart, ...]
    machine: str | None  # why this is machine mail, None for a person's letter
    #: What the parser had to work around (charset names, defects, truncation): no personal data.
    notes: tuple[str, ...] = field(default=())


def content_hash(raw: bytes) -> str:
    """Identity of a message without a Message-ID; line endings do not count (mbox vs .eml).

    Hashed a slice at a time (a CR ending a slice travels with it to the next), so a huge
    message is never copied whole.
    """
    digest = hashlib.sha256()
    start = 0
    while start < len(raw):
        end = start + _FEED_BYTES
        if raw[end - 1:end] == b"\r":
            end += 1
        digest.update(raw[start:end].replace(b"\r\n", b"\n"))
        start = end
    return digest.hexdigest()


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


#: Codecs that convert text but are not character sets a mail may be written in.
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape",
                           "undefined"})
_PLAIN_LABELS = frozenset({"", "us-ascii", "ascii", "unknown-8bit", "x-unknown"})
_LENIENT = "helpdesk-lenient"


def _byte_text(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return f"\\x{byte:02x}"


_BYTE_TEXT = tuple(_byte_text(b) for b in range(256))


def _lenient_error(exc: UnicodeError) -> tuple[str, int]:
    """Bytes a codec cannot decode, read one by one as Windows-1252 (a Latin-1 superset);
    the few it leaves undefined are shown escaped (``\\x81``), so no byte is lost."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(_BYTE_TEXT[b] for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error(_LENIENT, _lenient_error)


def charset_codec(label: str | None) -> str | None:
    """The codec of a ``charset=`` label when it names a character set, else None.

    ``codecs.lookup`` also finds transforms (rot13, base64, zlib) and text codecs that are not
    character sets (idna, punycode, unicode-escape): decoding mail with those raises or
    rewrites the text, so they count as unknown.
    """
    name = (label or "").strip().strip('"').lower()
    if name in _PLAIN_LABELS:
        return "utf-8"
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def lenient_text(data: bytes, codec: str = "utf-8") -> str:
    """``data`` decoded; bytes the codec cannot read become Windows-1252 text or escapes."""
    try:
        return data.decode(codec, _LENIENT)
    except (UnicodeError, LookupError):  # a codec that fails outright (odd lengths, state)
        return data.decode("utf-8", _LENIENT)


def decode_bytes(data: bytes, charset: str | None, notes: list[str]) -> str:
    """Bytes in a declared charset. An unknown label, or one naming something other than a
    character set, is read as UTF-8 with stray bytes as Windows-1252; it is noted."""
    codec = charset_codec(charset)
    if codec is None:
        notes.append(f"charset '{clean(str(charset), 40)}' is not a character set; "
                     "text read as UTF-8 / Latin-1")
        return lenient_text(data)
    return lenient_text(data, codec)


#: An RFC 2047 encoded word: charset (with an optional RFC 2231 language), encoding, text.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([qQbB])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def _word_bytes(encoding: str, text: str) -> bytes:
    data = text.encode("ascii", "surrogateescape")
    if encoding in "bB":
        data = _NOT_BASE64.sub(b"", data)
        data = data[: len(data) - (len(data) % 4 == 1)]  # a lone sixth bit pattern is noise
        return base64.b64decode(data + b"=" * (-len(data) % 4))
    return _Q_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data.replace(b"_", b" "))


def raw_header_text(text: str) -> str:
    """Header text as written. The compat32 parser keeps raw 8-bit bytes as surrogate escapes;
    they are read as UTF-8, else Windows-1252 (Latin-1), never shown as replacement marks."""
    if text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return lenient_text(text.encode("utf-8", "surrogateescape"))


def decode_words(value: object, notes: list[str]) -> str:
    """A header value unfolded, with RFC 2047 encoded words decoded and raw 8-bit text read."""
    if isinstance(value, Header):  # how compat32 hands over a header holding raw 8-bit bytes
        text = "".join(lenient_text(chunk) if isinstance(chunk, bytes) else chunk
                       for chunk, _ in decode_header(value))
    else:
        text = str(value)
    text = _FOLD.sub("", text)
    if "=?" not in text:
        return raw_header_text(text)
    out: list[str] = []
    pos = 0
    for m in _ENCODED_WORD.finditer(text):
        between = text[pos:m.start()]
        if not (pos and _BETWEEN_WORDS.fullmatch(between)):  # space between two words goes
            out.append(raw_header_text(between))
        try:
            data = _word_bytes(m.group(2), m.group(3))
        except (ValueError, binascii.Error):
            notes.append("malformed encoded word left as written")
            out.append(m.group(0))
        else:
            out.append(decode_bytes(data, m.group(1).split("*", 1)[0], notes))
        pos = m.end()
    out.append(raw_header_text(text[pos:]))
    return "".join(out)


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


def mail_time(value: str) -> datetime | None:
    """An RFC 5322 date as an aware UTC instant, or None when it is no possible instant
    (unreadable, or out of range once converted: ``31 Dec 9999 23:59:59 -1400``)."""
    try:
        parsed = parsedate_to_datetime(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _date(value: str | None, notes: list[str]) -> datetime | None:
    if not value:
        notes.append("no Date header")
        return None
    when = mail_time(value)
    if when is None:
        notes.append("unreadable Date header")
    return when


def _received(values: list[object] | None, notes: list[str]) -> datetime | None:
    """The date of the topmost Received header (after its last ";"), the hop that delivered
    the message to us; None without one."""
    if not values:
        return None
    when = mail_time(str(values[0]).rpartition(";")[2].strip())
    if when is None:
        notes.append("topmost Received header has no readable date")
    return when


@lru_cache(maxsize=4096)
def _normal_address(address: str) -> tuple[str, str] | None:
    """(display, key) of an address, None when invalid; remembered, as a mailbox holds many
    letters from each sender and checking an address is the slow part of reading a header."""
    try:
        return normalize_email(address)
    except Invalid:
        return None


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
        normal = _normal_address(address)
        if normal is None:
            notes.append("From address is not a valid e-mail address")
            return None, None, None
        return *normal, clean(name, 200) or None
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


def _collect(part: Message, acc: _Parts) -> None:
    ctype = part.get_content_type()
    if part.is_multipart() and not ctype.startswith("message/"):
        for sub in part.get_payload():
            if isinstance(sub, Message):
                _collect(sub, acc)
        return
    if ctype.startswith("message/") or (isinstance(part, _Part) and part.too_deep):
        if ctype.startswith("multipart/"):
            acc.notes.append(f"MIME parts nested over {MAX_MIME_DEPTH} deep were kept as an "
                             "attachment")
        inner = part.get_payload()
        data = b"".join(m.as_bytes() for m in inner if isinstance(m, Message)) if isinstance(
            inner, list) else _payload(part)  # a delivery status is parsed into header blocks
        acc.attachments.append(_attachment(part, data, acc.notes))
        return
    payload = _payload(part)
    disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
    textual = ctype in {"text/plain", "text/html"} or ctype.startswith("multipart/")
    if disposition == "attachment" or not textual:
        acc.attachments.append(_attachment(part, payload, acc.notes))
        return
    if ctype.startswith("multipart/"):  # declared multipart, but no usable boundary
        acc.notes.append("broken MIME structure: the body was read as plain text")
    label = part.get_content_charset()
    if label is not None and charset_codec(label) is None:  # keep what we could not read
        acc.attachments.append(_attachment(part, payload, acc.notes))
    text = decode_bytes(payload, label, acc.notes)
    (acc.html if ctype == "text/html" else acc.plain).append(text)


class _Part(Message):
    """A MIME part as the parser builds it, knowing how deep it sits.

    The parser descends into a part whose main type it is told is ``message`` or
    ``multipart``. Forwarded messages, and multiparts nested deeper than
    :data:`MAX_MIME_DEPTH`, answer ``application`` instead, so their bytes stay one opaque
    payload: nesting can never exhaust the parser's recursion, and nothing inside a forwarded
    message is mistaken for the letter.
    """

    depth = 0

    def attach(self, payload: Message) -> None:  # type: ignore[override]
        if isinstance(payload, _Part):
            payload.depth = self.depth + 1
        super().attach(payload)

    @property
    def too_deep(self) -> bool:
        return self.depth >= MAX_MIME_DEPTH

    def get_content_maintype(self) -> str:
        main = super().get_content_maintype()
        if main == "message" or (main == "multipart" and self.too_deep):
            return "application"
        return main


def _parse_bytes(data: bytes) -> Message:
    """The stdlib's compat32 parser over ``data``, fed in slices: fed at once, it would hold
    every line of the message as a separate string before building a single part."""
    parser = BytesFeedParser(_factory=_Part, policy=policy.compat32)
    view = memoryview(data)
    for start in range(0, len(data), _FEED_BYTES):
        parser.feed(view[start:start + _FEED_BYTES].tobytes())
    return parser.close()
_DASH_LINE = re.compile(rb"^--", re.MULTILINE)


def _cut_long_parts(raw: bytes) -> tuple[bytes, int]:
    """``raw`` with every stretch between two lines starting with "--" (MIME boundaries
    always do) cut to :data:`SEGMENT_BYTES` at a line end; the bytes left out.

    Structure survives (every boundary line is kept, and a part's headers come first in its
    stretch), so the parser sees the letter, each part's start and no more than the desk
    stores of any part.
    """
    if len(raw) <= SEGMENT_BYTES:
        return raw, 0
    keep: list[tuple[int, int]] = []
    dropped = 0
    kept_from = start = 0
    for nxt in (*(m.start() for m in _DASH_LINE.finditer(raw, 1)), len(raw)):
        if nxt - start > SEGMENT_BYTES:
            cut = raw.rfind(b"\n", start, start + SEGMENT_BYTES) + 1 or start + SEGMENT_BYTES
            keep.append((kept_from, cut))
            dropped += nxt - cut
            kept_from = nxt
        start = nxt
    if not dropped:
        return raw, 0
    keep.append((kept_from, len(raw)))
    return b"".join(raw[a:b] for a, b in keep), dropped


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
    readable, dropped = _cut_long_parts(raw)
    if dropped:
        notes.append(f"{dropped / _MB:.1f} MB inside parts over {SEGMENT_BYTES // _MB} MB "
                     "were not read")
    try:
        msg = _parse_bytes(readable)
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
    cc = ", ".join(decode_words(v, notes) for v in msg.get_all("Cc") or ())
    return ParsedMail(
        content_hash=content_hash(raw),
        message_id=ids[0] if ids else None,
        in_reply_to=reply_to[0] if reply_to else None,
        references=refs,
        sender=sender,
        sender_key=sender_key,
        sender_name=sender_name,
        to=clean(to, 2000) or None if to else None,
        cc=clean(cc, 2000) or None if cc else None,
        subject=clean(subject, 500) or None if subject else None,
        date=_date(_header(msg, "Date", notes), notes),
        received=_received(msg.get_all("Received"), notes),
        body=clean(body, MAX_BODY_CHARS),
        attachments=tuple(parts.attachments),
        machine=machine_reason(msg, sender_key, subject),
        notes=tuple(dict.fromkeys(notes)),
    )
