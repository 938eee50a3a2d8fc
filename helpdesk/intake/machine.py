"""Machine mail: auto-replies, out-of-office notes, bounces and delivery reports.

Such mail never opens a case (answering an auto-reply would start a mail loop). The checks follow
RFC 3834 (Auto-Submitted), the de-facto X-Autoreply / X-Autorespond / Precedence headers, the
usual bounce senders and RFC 3464 delivery reports (multipart/report), and, for the auto-replies
some mail servers send with none of those headers, the subject prefix they write in the six
desk languages ("Automatic reply:", "Abwesenheitsnotiz:", "Réponse automatique :" ...).
"""

from __future__ import annotations

import re
import unicodedata
from email.message import Message

_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_BOUNCE_LOCALS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_FLAG_HEADERS = ("X-Autoreply", "X-Autorespond")
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response)|out of (?:the )?office|"
    r"abwesenheitsnotiz|automatische antwort|abwesend|reponse automatique|absence du bureau|"
    r"respuesta automatica|fuera de la oficina|risposta automatica|fuori ufficio|"
    r"automatisch antwoord|afwezig)\s*:",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def machine_reason(msg: Message, sender: str | None, subject: str | None = None) -> str | None:
    """Why ``msg`` is machine mail, or None when a person wrote it.

    ``sender`` is the bare From address (lower case) if there is one; ``subject`` the decoded
    subject.
    """
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto.split(';')[0].strip()[:40]}"
    for name in _FLAG_HEADERS:
        if msg.get(name) is not None:
            return f"{name} header"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    if msg.get_content_type() == "multipart/report":
        report = msg.get_param("report-type")
        return f"delivery report ({report})" if isinstance(report, str) else "delivery report"
    if sender:
        local = sender.split("@", 1)[0]
        if local in _BOUNCE_LOCALS:
            return f"sent by {local}"
    if str(msg.get("Return-Path", "")).strip() == "<>":
        return "null return path (bounce)"
    if subject and _AUTO_SUBJECT.match(_plain(subject)):
        return "auto-reply subject"
    return None
