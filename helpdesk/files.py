"""Files that hold personal data (saved attachments, forwarded .eml): written by one function.

Minimal on purpose: the identity work brings the full helper (temporary file moved into place,
--force, private folders) under this module's name and API, and replaces this one.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from helpdesk.errors import Conflict, Invalid

FILE_MODE = 0o600
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def write_private(path: Path, data: str | bytes, *, force: bool = False) -> Path:
    """Create ``path`` readable by its owner only (0600, whatever the umask) and write
    ``data``: never over an existing file or through a symbolic link (``force`` is not
    supported here), and nothing is left behind when writing fails."""
    if force:
        raise Invalid("replacing an existing file is not supported here", field="out")
    path = path.expanduser()
    if not path.parent.is_dir():
        raise Invalid(f"folder {path.parent} does not exist; create it first", field="out")
    try:
        fd = os.open(path, _CREATE, FILE_MODE)
    except FileExistsError:
        if path.is_symlink():
            raise _link(path) from None
        raise Conflict(f"{path} already exists; the desk never overwrites a file: choose "
                       "another name", field="out") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link(path) from None
        raise Invalid(f"cannot write {path}: {exc.strerror}", field="out") from None
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _link(path: Path) -> Invalid:
    return Invalid(f"{path} is a symbolic link; the desk never writes through links",
                   field="out")
