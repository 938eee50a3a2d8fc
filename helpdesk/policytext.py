"""Reading a privacy policy text: its Parts, its sentences, its promised periods, its header.

Pure functions over the company's text (no database, no wording of the policy in here): the
desk reads what a loaded version says when it is added, shows it to the supervisor to confirm,
and stores the confirmed result with the version. What lives in this module is vocabulary (the
words that name a kind of request, the shape of "within 30 days"), never the policy's sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from helpdesk.domain import CaseKind

_HEADING = re.compile(r"^\s*Part\s+([IVXLC]+)\s*[.:\-]\s*(.+?)\s*$", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class PolicyPart:
    number: str  # Roman numeral as written
    title: str
    text: str  # the Part's body, without its heading

    @property
    def heading(self) -> str:
        return f"Part {self.number}. {self.title}"


def body(text: str, header_lines: int) -> str:
    """The policy text without the file's first ``header_lines`` lines (provenance notes,
    titles): what answers may quote."""
    return "\n".join(text.splitlines()[header_lines:])


def parts(text: str) -> list[PolicyPart]:
    """The policy's Parts in order; text before the first heading is not a Part."""
    found: list[PolicyPart] = []
    number = title = None
    lines: list[str] = []
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            if number is not None and title is not None:
                found.append(PolicyPart(number, title, "\n".join(lines).strip()))
            number, title, lines = m.group(1).upper(), m.group(2), []
        elif number is not None:
            lines.append(line)
    if number is not None and title is not None:
        found.append(PolicyPart(number, title, "\n".join(lines).strip()))
    return found


def paragraphs(text: str) -> list[tuple[PolicyPart | None, list[str]]]:
    """Each non-heading line of ``text`` as a list of sentences, with the Part it sits in
    (None before the first heading)."""
    out: list[tuple[PolicyPart | None, list[str]]] = []
    by_heading = {p.heading.casefold(): p for p in parts(text)}
    current: PolicyPart | None = None
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            current = by_heading.get(f"Part {m.group(1).upper()}. {m.group(2)}".casefold())
            continue
        found = [s for s in _SENTENCE.split(line.strip()) if s]
        if found:
            out.append((current, found))
    return out


# --- the file's header ---------------------------------------------------------------------------

#: Words of a note about where a file came from rather than what the company does.
_PROVENANCE = ("extracted", "transformed", "archived", "snapshot", "wayback", "reproduction",
               "retrieved", "downloaded", "scraped", "converted from", "original")
_TITLE_WORDS = 8


def header_lines(text: str) -> int:
    """How many leading lines are not policy text: provenance notes about the file and short
    title lines before the first Part heading. A suggestion the supervisor confirms."""
    lines = text.splitlines()
    count = 0
    for line in lines:
        stripped = line.strip()
        if _HEADING.match(line):
            break
        folded = stripped.casefold()
        if stripped and not any(cue in folded for cue in _PROVENANCE) and (
            len(stripped.split()) > _TITLE_WORDS
        ):
            break
        count += 1
    if not any(line.strip() for line in lines[count:]):
        return 0  # never the whole text
    return count


# --- promised periods ----------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15,
    "twenty": 20, "twenty-one": 21, "twenty-eight": 28, "thirty": 30, "forty": 40,
    "forty-five": 45, "sixty": 60, "ninety": 90, "hundred": 100,
}
_PERIOD = re.compile(
    r"\b(\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
    r"(?:\s*\(\d{1,3}\))?\s+(calendar\s+|business\s+|working\s+)?days?\b",
    re.IGNORECASE,
)

#: Patterns that name a kind of request in a sentence or a Part heading (matched on the
#: case-folded text).
KIND_CUES: dict[CaseKind, tuple[str, ...]] = {
    CaseKind.ACCESS: (r"\baccess to your\b", r"\baccess request", r"\bcopy of (?:your|the)\b"),
    CaseKind.CORRECTION: (r"\bcorrect", r"\brectif"),
    CaseKind.DELETION: (r"\bdelet", r"\beras(?:e|ure)\b"),
    CaseKind.OBJECTION: (r"\bchange (?:in )?(?:the way|how) we use\b", r"\bobject(?:ion)? to\b",
                         r"\bstop using\b"),
    CaseKind.DISPUTE: (r"\bdisputes?\b", r"\bcomplaints?\b"),
    CaseKind.MARKETING_OPT_OUT: (r"\bopt(?:-| )?out\b", r"\bunsubscrib"),
    CaseKind.QUESTION: (r"\bquestions?\b",),
}

#: Kinds the desk treats as a particular deletion request: when the text names no period of
#: their own they follow the deletion period (a parent asking to remove a child's data, a
#: customer asking to remove a public posting).
FOLLOWS: dict[CaseKind, CaseKind] = {
    CaseKind.UNDER_13: CaseKind.DELETION,
    CaseKind.POSTING_REMOVAL: CaseKind.DELETION,
}


@dataclass(frozen=True, slots=True)
class PeriodFinding:
    """One kind's period as read from the text, with the evidence to show the supervisor."""

    kind: CaseKind
    days: int
    part: str | None  # the heading of the Part the sentence sits in
    sentence: str | None  # the sentence stating the period (None when derived)
    follows: CaseKind | None = None  # derived from another kind's period
    note: str | None = None  # anything the supervisor should check (business days, conflicts)


def _cued(text: str) -> list[CaseKind]:
    folded = text.casefold()
    return [kind for kind, cues in KIND_CUES.items() if any(re.search(c, folded) for c in cues)]


def _days(match: re.Match[str]) -> int:
    raw = match.group(1).casefold()
    return int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]


def read_periods(text: str) -> list[PeriodFinding]:
    """The periods the text promises, per kind, in :class:`CaseKind` order.

    A sentence stating "N days" applies to the kinds it names; when it names none ("we will
    fulfil your request within 30 days"), to the kinds the sentences before it in the same
    paragraph name, and to a kind its Part's heading names ("Access to Your Information").
    Two different periods for one kind keep the shorter and say so.
    """
    stated: dict[CaseKind, list[PeriodFinding]] = {}
    for part, sentence_list in paragraphs(text):
        for i, sentence in enumerate(sentence_list):
            m = _PERIOD.search(sentence)
            if m is None:
                continue
            kinds = _cued(sentence)
            if not kinds:
                kinds = [k for s in sentence_list[:i] for k in _cued(s)]
                kinds += _cued(part.title) if part is not None else []
            unit = (m.group(2) or "").strip().casefold()
            note = (f"stated in {unit} days; the desk counts calendar days, so this is "
                    "stricter than the text" if unit in {"business", "working"} else None)
            for kind in dict.fromkeys(kinds):
                stated.setdefault(kind, []).append(PeriodFinding(
                    kind, _days(m), part.heading if part else None, sentence, note=note))
    found: dict[CaseKind, PeriodFinding] = {}
    for kind, candidates in stated.items():
        best = min(candidates, key=lambda f: f.days)
        distinct = sorted({f.days for f in candidates})
        if len(distinct) > 1:
            conflict = (f"the text states {' and '.join(map(str, distinct))} days; the shorter "
                        "applies")
            best = PeriodFinding(kind, best.days, best.part, best.sentence,
                                 note="; ".join(filter(None, (conflict, best.note))))
        found[kind] = best
    for kind, source in FOLLOWS.items():
        if kind not in found and source in found:
            found[kind] = PeriodFinding(kind, found[source].days, None, None, follows=source)
    return [found[k] for k in CaseKind if k in found]
