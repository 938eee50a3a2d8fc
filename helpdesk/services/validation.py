"""Checks on what people type (or paste) before it reaches the database.

Text is cleaned, not rejected, for invisible junk (control characters other than line breaks,
surrounding whitespace); it is refused with a message naming the field when it cannot be right
(empty where required, too long, an e-mail address that is not one).
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import TypeVar

from helpdesk.errors import Invalid

LIMITS = {
    "name": 200,
    "company": 200,
    "phone": 64,
    "billing_address": 1000,
    "shipping_address": 1000,
    "subject": 500,
    "note": 100_000,
    "reason": 2000,
    "display_name": 200,
}

E = TypeVar("E", bound=StrEnum)

_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{2,62}$")
_AGENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def clean_text(
    value: str | None, *, field: str, required: bool = False, multiline: bool = False
) -> str | None:
    """Strip control characters (keeping line breaks when ``multiline``) and check length."""
    if value is None:
        if required:
            raise Invalid(f"{field.replace('_', ' ')} is required", field=field)
        return None
    keep = {"\n", "\t"} if multiline else set()
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = "".join(
        ch
        if ch in keep or unicodedata.category(ch) not in {"Cc", "Cs"}
        else ("" if ch == "\x00" else " ")
        for ch in value
    ).strip()
    if not cleaned:
        if required:
            raise Invalid(f"{field.replace('_', ' ')} is required", field=field)
        return None
    limit = LIMITS.get(field, 1000)
    if len(cleaned) > limit:
        raise Invalid(
            f"{field.replace('_', ' ')} is too long ({len(cleaned)} characters; at most {limit})",
            field=field,
        )
    return cleaned


def normalize_email(address: str, *, field: str = "email") -> tuple[str, str]:
    """Validate an address without any network lookup.

    Returns ``(display, key)``: the address as it should be shown (domain normalised) and the
    case-folded key used for matching and suppression hashes.
    """
    raw = (address or "").strip()
    if not raw:
        raise Invalid("e-mail address is required", field=field)
    if len(raw) > 320:
        raise Invalid("e-mail address is too long", field=field)
    # Imported here: loading the validator costs more than the desk's first screen needs.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        shown = raw if raw.isprintable() else repr(raw)
        raise Invalid(f"'{shown[:80]}' is not a valid e-mail address: {exc}", field=field) from None
    return result.normalized, result.normalized.casefold()


def clean_phone(value: str | None) -> str | None:
    phone = clean_text(value, field="phone")
    if phone is not None and not _PHONE.match(phone):
        raise Invalid(
            "phone may contain only digits, spaces and + ( ) . - (for example +1 555 0100)",
            field="phone",
        )
    return phone


def check_agent_name(name: str) -> str:
    name = (name or "").strip()
    if not _AGENT_NAME.match(name):
        raise Invalid(
            "agent names are 1-64 letters, digits, dots, dashes or underscores (the login name)",
            field="name",
        )
    return name


def parse_choice(enum: type[E], value: E | str, *, what: str, plural: str, field: str) -> E:
    """One of ``enum``'s values, or Invalid listing the values that exist."""
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise Invalid(f"unknown {what} '{value}'; {plural} are: {choices}", field=field) from None
