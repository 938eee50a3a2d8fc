"""The project's labelled corpus of privacy letters, as a mailbox exports them.

Each ``<lang>/<NNN>-<slug>.eml`` is one complete RFC 5322 message; ``labels.toml`` says, per file,
what a careful human reads in it. The corpus is what intake is measured against
(``python -m bench classify``), so it is written independently of any classifier.

Label fields:

- ``kind``: the operative request, i.e. what the writer asks the company to do. When a letter asks
  several things it is the most demanding of them in :data:`PRECEDENCE` order. A threat to complain
  to a supervisory authority is not a dispute; a dispute complains about the company's own handling.
  ``under_13`` covers what a parent asks for the child (close, erase, no marketing).
- ``also``: the other kinds the letter asks for, in the order it asks them.
- ``reminder`` / ``refers_to``: a reminder of an earlier request; ``refers_to`` is that letter's
  corpus path when it is in the corpus, else the date or subject the reminder mentions.
- ``auto_reply``: an automatic answer (out-of-office, ticket acknowledgement). Its ``kind`` is
  nominally ``question``: it asks nothing.
- ``raw_8bit_headers``: Subject or From carry raw UTF-8 or Latin-1 bytes, not RFC 2047 words.
- ``tags``: what the letter is made of (``formal``, ``threat``, ``quoted``, ``forwarded``, ...), so
  tests and benchmarks can count and slice it. ``tests/test_letters_corpus.py`` checks the tags that
  can be read from the message itself (``thread``, ``date-skew``, ``html``, ``base64`` ...).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
LABELS = ROOT / "labels.toml"
LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
#: Every kind, most demanding first: a letter's primary kind is the first of these it asks for.
PRECEDENCE = (
    "under_13",
    "dispute",
    "deletion",
    "objection",
    "access",
    "correction",
    "marketing_opt_out",
    "posting_removal",
    "question",
)


@dataclass(frozen=True)
class Letter:
    path: str  # relative to tests/letters, e.g. "en/001-access-formal.eml"
    raw: bytes
    language: str
    kind: str
    also: tuple[str, ...]
    reminder: bool
    refers_to: str | None
    auto_reply: bool
    raw_8bit_headers: bool
    why: str
    tags: tuple[str, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every kind the letter asks for, primary first."""
        return (self.kind, *self.also)


def labels() -> dict[str, dict[str, Any]]:
    """The raw label tables, keyed by path relative to tests/letters."""
    with LABELS.open("rb") as fh:
        return tomllib.load(fh)


def load(language: str | None = None) -> list[Letter]:
    """Every labelled letter (of one language when given), in path order."""
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; the corpus has {', '.join(LANGUAGES)}")
    letters = []
    for path, label in sorted(labels().items()):
        if language is not None and label["language"] != language:
            continue
        letters.append(
            Letter(
                path=path,
                raw=(ROOT / path).read_bytes(),
                language=label["language"],
                kind=label["kind"],
                also=tuple(label["also"]),
                reminder=label["reminder"],
                refers_to=label.get("refers_to"),
                auto_reply=label["auto_reply"],
                raw_8bit_headers=label["raw_8bit_headers"],
                why=label["why"],
                tags=tuple(label.get("tags", ())),
            )
        )
    return letters
