"""Hostile strings for any test that pushes customer-supplied text through the desk.

Import ``HOSTILE`` (short strings, cheap enough to run through every input and screen) and
``HUGE`` (1 MB strings, for the paths that must refuse or clip large input) from here so every
area tests against the same list.
"""

from __future__ import annotations

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
