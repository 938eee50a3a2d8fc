"""Where the desk keeps its data and configuration, and what the configuration says.

One TOML file in the user's config directory; environment variables override it. Paths follow the
platform's conventions (XDG on Linux) through platformdirs, and ``HELPDESK_HOME`` moves everything
under one folder (handy for tests and portable installs).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid

log = logging.getLogger(__name__)

APP_NAME = "helpdesk"
#: No attachment is kept larger than the largest message the importer reads.
ATTACHMENT_CEILING = 25 * 1024 * 1024


def data_dir() -> Path:
    home = os.environ.get("HELPDESK_HOME")
    if home:
        return Path(home) / "data"
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    home = os.environ.get("HELPDESK_HOME")
    if home:
        return Path(home) / "config"
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    return Path(os.environ.get("HELPDESK_CONFIG") or config_dir() / "config.toml")


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'helpdesk.sqlite3'}"


def _system_timezone() -> str:
    """The machine's zone name, or UTC when it cannot be told."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        return tz
    try:
        return Path("/etc/timezone").read_text().strip() or "UTC"
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else "UTC"


#: Service levels out of the box: a question in 5 days, a marketing opt-out by the next day, and
#: for requests and disputes the periods a privacy policy usually promises, so a desk without a
#: loaded version (or with one that names no period for a kind) still runs a sensible clock.
DEFAULT_SERVICE_LEVELS: dict[str, int] = {
    CaseKind.QUESTION.value: 5,
    CaseKind.MARKETING_OPT_OUT.value: 1,
    **{k.value: 30 for k in (CaseKind.ACCESS, CaseKind.CORRECTION, CaseKind.DELETION,
                             CaseKind.OBJECTION, CaseKind.UNDER_13, CaseKind.POSTING_REMOVAL)},
    CaseKind.DISPUTE.value: 90,
}


#: What customers send to prove who they are or what they mean: documents, scans and photos,
#: plain text, forwarded mail.
DEFAULT_ATTACHMENT_TYPES: tuple[str, ...] = (
    "application/pdf", "image/jpeg", "image/png", "image/gif", "image/tiff", "image/webp",
    "image/heic", "text/plain", "text/csv", "message/rfc822", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
)
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/(?:\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$")


@dataclass(frozen=True, slots=True)
class LegalRule:
    """A stricter legal deadline that applies to some kinds (e.g. a national access-request law)."""

    name: str
    kinds: tuple[CaseKind, ...]
    days: int


@dataclass(frozen=True)
class Settings:
    db_url: str = field(default_factory=default_db_url)
    timezone: str = field(default_factory=_system_timezone)
    #: The desk's own clock in calendar days, per kind, for kinds the policy version in force
    #: names no period for (and for every kind before any version is loaded).
    service_levels: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SERVICE_LEVELS))
    legal_rules: tuple[LegalRule, ...] = ()
    #: Days after receipt at which a dispute is flagged (policy limit is 90).
    dispute_warning_days: tuple[int, ...] = (60, 75, 85)
    archive_systems: tuple[str, ...] = ()
    #: The largest attachment whose content the desk keeps (bytes); larger ones are listed
    #: (name, type, size, checksum) without content.
    attachment_max_bytes: int = 10 * 1024 * 1024
    #: Content types whose content the desk keeps ("type/subtype" or "type/*"); others are
    #: listed without content (an executable or a script has no business in the desk).
    attachment_types: tuple[str, ...] = DEFAULT_ATTACHMENT_TYPES
    #: Days a backup made by ``helpdesk backup`` is kept before ``backups prune`` deletes it.
    backup_keep_days: int = 30
    #: The desk's own address: From of outgoing replies; its domain ends their Message-IDs.
    mail_from: str = "info@example.com"
    #: Other addresses the desk sends from (a privacy@ alias, a ticket robot): mail from these
    #: or from ``mail_from`` is a loop, recorded but never a new case.
    mail_aliases: tuple[str, ...] = ()
    keymap: dict[str, str] = field(default_factory=dict)
    theme: str = "textual-dark"
    #: File holding the HMAC key for suppression hashes (outside the database on purpose).
    key_file: Path = field(default_factory=lambda: data_dir() / "suppression.key")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service_level(self, kind: CaseKind) -> int:
        return self.service_levels.get(kind.value, DEFAULT_SERVICE_LEVELS[kind.value])

    def public_view(self) -> dict[str, Any]:
        """The effective configuration without secrets (passwords in URLs are masked)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "db_url":
                value = mask_url(value)
            elif f.name == "legal_rules":
                value = [{"name": r.name, "kinds": list(r.kinds), "days": r.days} for r in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Path):
                value = str(value)
            out[f.name] = value
        return out


def mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"


_KNOWN_KEYS = {f.name for f in fields(Settings)}
#: Keys earlier versions read from this file that now live elsewhere: ignored with a notice.
_RETIRED_KEYS = {
    "allow_impersonation": "acting as another agent is a setting of the database now; a "
    "supervisor turns it on or off with 'helpdesk agent impersonation on|off'",
}


def _check_int_map(key: str, raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise Invalid(f"config: '{key}' must be a table of kind = days", field=key)
    valid = {k.value for k in CaseKind}
    for name, days in raw.items():
        if name not in valid:
            raise Invalid(f"config: '{key}.{name}' is not a case kind", field=f"{key}.{name}")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise Invalid(f"config: '{key}.{name}' must be a whole number of days", field=key)
    return dict(raw)


def _parse(raw: dict[str, Any]) -> dict[str, Any]:
    for key in set(raw) & set(_RETIRED_KEYS):
        log.warning("config: '%s' is ignored: %s", key, _RETIRED_KEYS[key])
    unknown = set(raw) - _KNOWN_KEYS - set(_RETIRED_KEYS)
    if unknown:
        raise Invalid(f"config: unknown key '{sorted(unknown)[0]}'", field=sorted(unknown)[0])
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in {"db_url", "timezone", "theme", "mail_from"}:
            if not isinstance(value, str) or not value:
                raise Invalid(f"config: '{key}' must be a non-empty string", field=key)
            out[key] = value
        elif key == "service_levels":
            base = Settings().service_levels
            out[key] = {**base, **_check_int_map(key, value)}
        elif key == "legal_rules":
            out[key] = tuple(_parse_rule(i, r) for i, r in enumerate(_list(key, value)))
        elif key == "dispute_warning_days":
            days = _list(key, value)
            if not all(isinstance(d, int) and 0 < d < 90 for d in days):
                raise Invalid(f"config: '{key}' must list days between 1 and 89", field=key)
            out[key] = tuple(sorted(days))
        elif key == "mail_aliases":
            aliases = _list(key, value)
            if not all(isinstance(a, str) and "@" in a for a in aliases):
                raise Invalid(f"config: '{key}' must list e-mail addresses", field=key)
            out[key] = tuple(a.strip() for a in aliases)
        elif key == "backup_keep_days":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise Invalid(f"config: '{key}' must be a whole number of days, 1 or more",
                              field=key)
            out[key] = value
        elif key == "archive_systems":
            systems = _list(key, value)
            if not all(isinstance(s, str) and s.strip() for s in systems):
                raise Invalid(f"config: '{key}' must list system names as strings", field=key)
            out[key] = tuple(s.strip() for s in systems)
        elif key == "attachment_max_bytes":
            if not isinstance(value, int) or isinstance(value, bool) or not (
                    0 <= value <= ATTACHMENT_CEILING):
                raise Invalid(f"config: '{key}' must be a number of bytes from 0 to "
                              f"{ATTACHMENT_CEILING}", field=key)
            out[key] = value
        elif key == "attachment_types":
            types = _list(key, value)
            if not all(isinstance(t, str) and _CONTENT_TYPE.match(t.strip().lower())
                       for t in types):
                raise Invalid(f"config: '{key}' must list content types such as "
                              "'application/pdf' or 'image/*'", field=key)
            out[key] = tuple(t.strip().lower() for t in types)
        elif key == "keymap":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise Invalid("config: 'keymap' must map binding ids to keys", field=key)
            out[key] = dict(value)
        elif key == "key_file":
            if not isinstance(value, str) or not value:
                raise Invalid(f"config: '{key}' must be a file path", field=key)
            out[key] = Path(value).expanduser()
    return out


def _list(key: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"config: '{key}' must be a list", field=key)
    return value


def _parse_rule(index: int, raw: Any) -> LegalRule:
    where = f"legal_rules[{index}]"
    if not isinstance(raw, dict) or set(raw) != {"name", "kinds", "days"}:
        raise Invalid(f"config: '{where}' needs exactly name, kinds and days", field=where)
    kinds = _list(f"{where}.kinds", raw["kinds"])
    valid = {k.value for k in CaseKind}
    bad = [k for k in kinds if k not in valid]
    if bad:
        raise Invalid(f"config: '{where}.kinds' has unknown kind '{bad[0]}'", field=where)
    days = raw["days"]
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise Invalid(f"config: '{where}.days' must be a positive whole number", field=where)
    return LegalRule(name=str(raw["name"]), kinds=tuple(CaseKind(k) for k in kinds), days=days)


_ENV = {
    "HELPDESK_DB_URL": "db_url",
    "HELPDESK_TIMEZONE": "timezone",
    "HELPDESK_THEME": "theme",
}


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the config file (if any), apply environment overrides, then explicit ones."""
    path = path or config_path()
    values: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise Invalid(f"config: {path} is not valid TOML: {exc}") from None
        try:
            values.update(_parse(raw))
        except Invalid as exc:
            raise Invalid(f"{exc.message} (in {path})", field=exc.field) from None
    for env, key in _ENV.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    try:
        settings.tz  # noqa: B018 - validate the zone name early
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"config: 'timezone' names an unknown time zone '{settings.timezone}'",
            field="timezone",
        ) from None
    return settings
