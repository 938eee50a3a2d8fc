"""Domain errors raised by the service layer.

Every error carries a message meant for a support agent (no SQL, no stack trace) and the exit code
the CLI uses for it, so scripts can tell the failures apart.
"""

from __future__ import annotations

from typing import ClassVar


class HelpdeskError(Exception):
    """Base class: a failure the user can understand and act on."""

    exit_code: ClassVar[int] = 1
    label: ClassVar[str] = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotFound(HelpdeskError):
    exit_code = 3
    label = "not found"


class Forbidden(HelpdeskError):
    exit_code = 4
    label = "forbidden"


class Conflict(HelpdeskError):
    """Someone else changed the record since it was read; reload and try again."""

    exit_code = 5
    label = "conflict"


class Invalid(HelpdeskError):
    """Input that breaks a rule. ``field`` names the offending field when there is one."""

    exit_code = 6
    label = "invalid"


class Busy(HelpdeskError):
    """The database stayed locked by another writer past the busy timeout."""

    exit_code = 7
    label = "busy"


class KeyMissing(HelpdeskError):
    """This desk does not hold the database's secret key (or the key file is unusable).

    Suppression hashes and the audit chain are keyed with one secret per database, kept outside
    it; a desk without that key must not hash, check or chain anything.
    """

    exit_code = 8
    label = "key missing"


class Unavailable(HelpdeskError):
    """The database cannot be reached or opened (server down, wrong address, lost connection)."""

    exit_code = 9
    label = "database unavailable"


#: A check ran and found a problem (``audit verify``: the chain no longer holds). Not 1, so a
#: script watching the trail tells a broken chain from a desk that failed to run the check.
CHECK_FAILED = 10

#: Exit codes documented by ``helpdesk --help``; 2 is argparse's usage error.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected error",
    2: "usage error (bad command or option)",
    NotFound.exit_code: "not found",
    Forbidden.exit_code: "forbidden (role or identity refused)",
    Conflict.exit_code: "conflict (changed by someone else, or already exists)",
    Invalid.exit_code: "invalid input",
    Busy.exit_code: "database busy (locked by another writer)",
    KeyMissing.exit_code: "this desk does not hold the database's key (see 'helpdesk key')",
    Unavailable.exit_code: "database unavailable (server unreachable, connection lost)",
    CHECK_FAILED: "a check found a problem (audit verify: the chain is broken)",
}
