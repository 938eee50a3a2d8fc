"""Files that hold personal data: the one way the desk writes them.

Every such file (the database and its WAL/SHM, backups, pre-upgrade and pre-restore copies,
exports, audit exports, .eml replies, the key) is created readable by its owner only (0600),
whatever the umask, and folders the desk creates for them are 0700. A path that already exists
is refused unless the caller was told to replace it (``--force``); a symbolic link is never
followed, whether it points somewhere or nowhere, because a link placed by someone else would
send the data where they can read it.

Writes go to a temporary file beside the target (created exclusively, without following links)
and are moved into place when complete, so a half-written file never carries the target's name.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from helpdesk.errors import Conflict, Invalid

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def os_problem(path: Path, exc: OSError, *, field: str | None = None) -> Invalid:
    """A one-line refusal for a file-system error, saying what to do."""
    if exc.errno == errno.ENAMETOOLONG:
        return Invalid(f"the path {str(path)[:80]}... is too long for the file system; choose "
                       "a shorter name or folder", field=field)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return Invalid(f"no permission to write {path}; choose a folder you own", field=field)
    if exc.errno == errno.ELOOP:
        return Invalid(f"{path} is a symbolic link; the desk never writes through links",
                       field=field)
    return Invalid(f"cannot write {path}: {exc.strerror or exc}", field=field)


def private_dir(path: Path) -> Path:
    """Make ``path`` (and any missing parent) as 0700 folders; tighten it when looser."""
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        probe = probe.parent
    try:
        for folder in reversed(missing):
            os.mkdir(folder, DIR_MODE)
            os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered through the umask
    except FileExistsError:
        pass  # another desk made it a moment ago
    except OSError as exc:
        raise os_problem(path, exc) from None
    if not path.is_dir() or path.is_symlink():
        raise Invalid(f"{path} is not a folder the desk can keep private data in")
    tighten(path, DIR_MODE)
    return path


def tighten(path: Path, mode: int) -> bool:
    """Take away what ``mode`` does not allow from an existing file or folder, with a notice.

    Returns whether anything changed. A file that is not ours to change is left with a notice.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    current = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode) or not current & ~mode:
        return False
    try:
        os.chmod(path, current & mode)
    except OSError as exc:
        log.warning("%s is readable by others (mode %o) and could not be tightened: %s",
                    path, current, exc.strerror)
        return False
    log.warning("tightened %s from mode %o to %o: it holds personal data", path, current,
                current & mode)
    return True


def check_target(path: Path, *, force: bool = False, field: str | None = "out") -> None:
    """Refuse to write ``path`` when it is a link, a folder or something other than a regular
    file, when it exists and ``force`` is not given, or when its folder does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise os_problem(path, exc, field=field) from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise Invalid(f"{path} is a symbolic link; the desk never writes through links: "
                          "give the real path or another name", field=field)
        if stat.S_ISDIR(st.st_mode):
            raise Invalid(f"{path} is a folder; give a file name", field=field)
        if not stat.S_ISREG(st.st_mode):
            raise Invalid(f"{path} is not a regular file", field=field)
        if not force:
            raise _exists(path, field)
    if not path.parent.is_dir():
        raise Invalid(f"folder {path.parent} does not exist; create it first", field=field)


def _exists(path: Path, field: str | None) -> Conflict:
    return Conflict(f"{path} already exists; the desk never overwrites a file: choose another "
                    "name (or add --force, where the command offers it)", field=field)


def _temp_beside(path: Path) -> tuple[int, Path]:
    """A new empty 0600 file in ``path``'s folder, opened for writing."""
    for _ in range(100):
        tmp = path.with_name(f".helpdesk-{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, _CREATE, FILE_MODE)
        except FileExistsError:
            continue
        except OSError as exc:
            raise os_problem(path, exc) from None
        os.fchmod(fd, FILE_MODE)
        return fd, tmp
    raise Invalid(f"cannot create a temporary file beside {path}")


def _place(tmp: Path, path: Path, *, force: bool) -> None:
    """Give the finished temporary file ``path``'s name: over a regular file only with
    ``force``; never over a link (a rename replaces the link itself, not what it points to)."""
    try:
        if force:
            check_target(path, force=True)
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # fails if anything, even a dangling link, has the name
        except FileExistsError:
            raise _exists(path, "out") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK,
                                 errno.EOPNOTSUPP):
                raise
            check_target(path)  # a file system without hard links
            os.rename(tmp, path)
            return
        os.unlink(tmp)
    except OSError as exc:
        raise os_problem(path, exc) from None


@contextmanager
def private_file(path: Path, *, force: bool = False, binary: bool = False) -> Iterator[IO[Any]]:
    """Open ``path`` for writing personal data: 0600, never through a link, not over an
    existing file unless ``force``; the file appears under its name only once complete."""
    path = path.expanduser()
    check_target(path, force=force)
    fd, tmp = _temp_beside(path)
    try:
        mode = "wb" if binary else "w"
        encoding = None if binary else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if binary else "") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _place(tmp, path, force=force)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_private(path: Path, data: str | bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` as :func:`private_file` does."""
    with private_file(path, force=force, binary=isinstance(data, bytes)) as fh:
        fh.write(data)
    return path.expanduser()


@contextmanager
def private_target(path: Path, *, force: bool = False) -> Iterator[Path]:
    """For tools that write a file by name (SQLite's backup API): an empty 0600 file beside
    ``path`` to fill, moved to ``path`` when the block ends without error."""
    path = path.expanduser()
    check_target(path, force=force, field="path")
    fd, tmp = _temp_beside(path)
    os.close(fd)
    try:
        yield tmp
        _place(tmp, path, force=force)
    except BaseException:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        raise


def prepare_database_file(path: Path, *, create_folder: bool) -> None:
    """Before SQLite opens ``path``: refuse a link, create the file 0600 when it is new (SQLite
    gives its WAL and SHM files the database file's mode), and tighten an existing database,
    its WAL and SHM when they are readable by others. ``create_folder`` only for the desk's own
    default location; any other folder must exist."""
    folder = path.parent
    if create_folder:
        private_dir(folder)
    elif not folder.is_dir():
        raise Invalid(f"folder {folder} does not exist; create it first, or leave out --db to "
                      "use the default location", field="db")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise os_problem(path, exc, field="db") from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise Invalid(f"{path} is a symbolic link; give the database's real path", field="db")
    if st is None:
        try:
            os.close(os.open(path, _CREATE, FILE_MODE))
        except FileExistsError:
            pass  # another desk created it a moment ago
        except OSError as exc:
            raise os_problem(path, exc, field="db") from None
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        tighten(name, FILE_MODE)
