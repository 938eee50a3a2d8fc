"""Machine mail: auto-replies, out-of-office notes, bounces and delivery reports.

Such mail never opens a case (answering an auto-reply would start a mail loop). The checks follow
RFC 3834 (Auto-Submitted), the de-facto X-Autoreply / X-Autorespond / Precedence headers, the
usual bounce senders and RFC 3464 delivery reports (multipart/report).
"""

from __future__ import annotations

from email.message import Message

_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_BOUNCE_LOCALS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_FLAG_HEADERS = ("X-Autoreply", "X-Autorespond")


def machine_reason(msg: Message, sender: str | None) -> str | None:
    """Why ``msg`` is machine mail, or None when a person wrote it.

    ``sender`` is the bare From address (lower case) if there is one.
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
    return None
