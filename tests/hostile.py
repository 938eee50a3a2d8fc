"""Hostile strings for any test that pushes customer-supplied text through the desk.

Import ``HOSTILE`` (short strings, cheap enough to run through every input and screen) and
``HUGE`` (1 MB strings, for the paths that must refuse or clip large input) from here so every
area tests against the same list.
"""

from __future__ import annotations

import os

HOSTILE: list[str] = [
    # Textual / Rich markup: closing tags, actions, style injection
    "[/b]",
    "[bold red]shout[/]",
    "[@click=app.quit]free gift[/]",
    "[link=https://evil.example]x[/link]",
    "[/]" * 20,
    "[ [[ ]] ]",
    # ANSI and other control characters
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned\x07",
    "\x1b[2J\x1b[H",
    "bell\x07 backspace\x08 formfeed\x0c",
    "carriage\rreturn",
    "null\x00byte",
    "\x00",
    "\x7f\x9b31m",
    # bidi and invisible characters
    "\u202eevil.exe\u202dtxt",
    "\u2066isolate\u2069",
    "zero\u200bwidth\u200djoiner\ufeff",
    "\u00ad",
    # emoji, combining marks, other scripts
    "🎉🔥👩‍👩‍👧‍👦",
    "Z̷̢̛̛a̵̧̛l̶g̸o̴",
    "Ünïcödé Straße Åsa Łukasz",
    "日本語テキスト",
    "مرحبا بالعالم",
    "\ud800",  # lone surrogate: not encodable as UTF-8
    # SQL, FTS5 and LIKE syntax
    "'; DROP TABLE customer; --",
    "\" OR 1=1 --",
    "Robert'); DELETE FROM agent;--",
    "%_%\\",
    'NEAR(a b) OR "c" AND NOT d*',
    "name:foo ^bar {baz}",
    '"unterminated',
    "*",
    "()",
    "-",
    # format strings and paths
    "{0}{1}%s%d%n",
    "../../etc/passwd",
    "C:\\Windows\\system32",
    # whitespace edge cases
    "",
    " ",
    "\t\n\r",
    "a" * 300,
]

HUGE: list[str] = [
    "x" * 1_000_000,
    "[b]" * 333_334,
    "é" * 500_000,
]


#: A command-line argument as Python hands it over when its bytes are not UTF-8 (lone
#: surrogates from ``surrogateescape``), as from a file name made on another system.
UNDECODABLE = os.fsdecode(b"caf\xe9 \xff\xfe.mbox")
#: Longer than a file name may be (NAME_MAX is 255 bytes) and than a path may be (PATH_MAX 4096).
LONG_NAME = "n" * 300
LONG_PATH = "d/" * 2100 + "f"

#: Hostile command-line arguments: the strings above plus what only argv and options bring —
#: undecodable bytes, over-long paths, numbers no column holds, database URLs that are not.
ARGV: list[str] = [
    *HOSTILE,
    UNDECODABLE,
    LONG_NAME,
    LONG_PATH,
    "x" * 100_000,
    "9" * 400,
    "2147483647",  # the largest a 32-bit id column holds: passes the argument check
    "2200000000",  # beyond a 32-bit integer column (PostgreSQL's INTEGER)
    "9223372036854775808",  # beyond a 64-bit one (SQLite's INTEGER)
    "-99999999999999999999",
    "-1",
    "0",
    "1e309",
    "nan",
    "2026-02-30",
    "99999-12-31",
    "0001-01-01T00:00:00",
    "x=y=z",
    "dispute=99999999999999999999",
    "notaurl",
    "postgresql://",
    "postgresql://u:p@[::1/db",
    "sqlite:///" + LONG_NAME,
    "sqlite:////nonexistent-folder/x.sqlite3",
    "http://example.org/",
    "mysql://u@localhost/x",
    "file:///etc/passwd",
    "sqlite:///" + UNDECODABLE,
]
