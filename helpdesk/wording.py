"""How the desk and the CLI say numbers of things: "1 case", "1,240 cases", "no case"."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with the noun in the right number and thousands grouped: 1 case, 1,240 cases."""
    noun = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {noun}"


def hanging(prefix: str, value: str) -> str:
    """``prefix`` then ``value``, its further lines indented under its first: multi-line
    values (postal addresses) stay in their column in plain-text output."""
    return prefix + value.replace("\n", "\n" + " " * len(prefix))
