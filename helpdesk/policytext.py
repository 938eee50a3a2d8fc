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
#: A period is a promise when words of a deadline lead into it ("within 30 days", "in no more
#: than a month"); "logs are kept for 12 months" or "up to 6 weeks in backups" are not.
_PERIOD = re.compile(
    r"\b(?:within|in|no later than|not later than|no more than|not more than|at the latest)\s+"
    r"(?:(?:a|the)\s+)?(?:(?:maximum|period)\s+of\s+)?"
    r"(\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r"|an?)"
    r"(?:\s*\(\d{1,3}\))?[\s-]+(calendar\s+|business\s+|working\s+)?(days?|weeks?|months?)\b",
    re.IGNORECASE,
)

#: Days in each month of a common year, for the shortest span of a number of months.
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


#: Patterns that name a kind of request in a sentence or a Part heading (matched on the
#: case-folded text).
KIND_CUES: dict[CaseKind, tuple[str, ...]] = {
    CaseKind.ACCESS: (r"\baccess to your\b", r"\baccess request", r"\bcopy of (?:your|the)\b"),
    CaseKind.CORRECTION: (r"\bcorrect", r"\brectif"),
    CaseKind.DELETION: (r"\bdelet", r"\beras(?:e|ure)\b"),
    CaseKind.OBJECTION: (r"\bchange (?:in )?(?:the way|how) we use\b", r"\bobject(?:ions?)? to\b",
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


def _period(match: re.Match[str]) -> tuple[int, str | None]:
    """The days a stated period gives, never more than the text allows, and a note for the
    supervisor when the desk had to count: business days are taken as calendar days, and N
    months as the shortest run of N calendar months (28 days for one)."""
    raw = match.group(1).casefold()
    count = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 1)  # "within a month"
    unit = match.group(3).casefold().rstrip("s")
    kind = (match.group(2) or "").strip().casefold()
    if unit == "week":
        return count * 7, None
    if unit == "month":
        days = min(sum(_MONTH_DAYS[(start + i) % 12] for i in range(count)) for start in range(12))
        stated = match.group(0)[match.start(1) - match.start():]
        return days, (f"stated as {stated}; the desk counts days, so this is {days} "
                      "days, the shortest span that long: never later than the text")
    note = (f"stated in {kind} days; the desk counts calendar days, so this is stricter than "
            "the text" if kind in {"business", "working"} else None)
    return count, note


def read_periods(text: str) -> list[PeriodFinding]:
    """The periods the text promises, per kind, in :class:`CaseKind` order.

    A sentence stating "N days" (or weeks, or months) applies to the kinds it names; when it
    names none ("we will fulfil your request within 30 days"), to the kinds the sentences
    before it in the same paragraph name, and to a kind its Part's heading names ("Access to
    Your Information"). Two different periods for one kind (in one sentence or several: "30
    days, or two months when complex") keep the shorter and say so.
    """
    stated: dict[CaseKind, list[PeriodFinding]] = {}
    for part, sentence_list in paragraphs(text):
        for i, sentence in enumerate(sentence_list):
            periods = [_period(m) for m in _PERIOD.finditer(sentence)]
            if not periods:
                continue
            kinds = _cued(sentence)
            if not kinds:
                kinds = [k for s in sentence_list[:i] for k in _cued(s)]
                kinds += _cued(part.title) if part is not None else []
            for kind in dict.fromkeys(kinds):
                stated.setdefault(kind, []).extend(
                    PeriodFinding(kind, days, part.heading if part else None, sentence, note=note)
                    for days, note in periods)
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
