"""Answers drawn from the privacy policy text at run time.

The policy is split into its Parts by their headings ("Part III. Access to Your Information");
each case kind is governed by the Part whose heading names its subject, and canned answers quote
the sentences of the version in force that speak to the question. Nothing here bakes in the
company's wording: a new policy version changes the answers without a code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from helpdesk.db.models import PolicyVersion
from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid, NotFound
from helpdesk.policytext import PolicyPart, parts, sentences
from helpdesk.services import cases, policy
from helpdesk.services.context import Desk

#: Words looked for in Part headings, per kind, in order of preference.
KIND_HEADINGS: dict[CaseKind, tuple[str, ...]] = {
    CaseKind.QUESTION: ("contact",),
    CaseKind.MARKETING_OPT_OUT: ("usage", "use"),
    CaseKind.ACCESS: ("access",),
    CaseKind.CORRECTION: ("access",),
    CaseKind.DELETION: ("access",),
    CaseKind.OBJECTION: ("access",),
    CaseKind.DISPUTE: ("contact",),
    CaseKind.UNDER_13: ("collection",),
    CaseKind.POSTING_REMOVAL: ("usage", "use"),
}


def part_for(text: str, kind: CaseKind) -> PolicyPart | None:
    for word in KIND_HEADINGS[kind]:
        for part in parts(text):
            if re.search(rf"\b{re.escape(word)}\b", part.title, re.IGNORECASE):
                return part
    return None


@dataclass(frozen=True, slots=True)
class GoverningPart:
    case_id: int
    kind: CaseKind
    policy_version_id: int | None
    policy_label: str | None
    part: PolicyPart | None  # None when no policy is registered or no heading matches


def _version_for(s: Session, desk: Desk, version_id: int | None, at: datetime
                 ) -> PolicyVersion | None:
    if version_id is not None:
        row = s.get(PolicyVersion, version_id)
        if row is not None:
            return row
    return policy.in_force(s, at, desk)


def governing_part(desk: Desk, *, case_id: int) -> GoverningPart:
    """The Part of the policy that governs a case, from the version in force when it arrived."""
    with desk.db.session() as s:
        desk.actor(s)
        case = cases.load(s, case_id)
        kind = CaseKind(case.kind)
        version = _version_for(s, desk, case.policy_version_id, case.received_at)
        return GoverningPart(
            case_id=case_id, kind=kind, policy_version_id=version.id if version else None,
            policy_label=version.label if version else None,
            part=part_for(version.text, kind) if version else None,
        )


class Topic(StrEnum):
    COOKIES = "cookies"
    WEB_BUGS = "web_bugs"
    POSTINGS = "postings"
    CHANGE_OF_USE = "change_of_use"
    SHARING = "sharing"  # who may receive data (the register answers for one customer)
    SALE = "sale"
    CHILDREN = "children"
    ARCHIVES = "archives"


#: Words whose sentences answer each topic.
TOPIC_WORDS: dict[Topic, tuple[str, ...]] = {
    Topic.COOKIES: ("cookie",),
    Topic.WEB_BUGS: ("web bug", "clear gif", "beacon"),
    Topic.POSTINGS: ("posting", "publicly available"),
    Topic.CHANGE_OF_USE: ("change in the way we use", "opt-out", "opt out", "choose not to"),
    Topic.SHARING: ("share", "third part", "affiliate", "acquire", "government"),
    Topic.SALE: ("sell",),
    Topic.CHILDREN: ("under 13", "children"),
    Topic.ARCHIVES: ("archiv",),
}


@dataclass(frozen=True, slots=True)
class Answer:
    topic: Topic
    quoted: tuple[str, ...]  # the policy's own sentences
    text: str  # the reply body
    policy_version_id: int | None


def parse_topic(value: Topic | str) -> Topic:
    try:
        return Topic(value)
    except ValueError:
        raise Invalid(f"topic must be one of {', '.join(t.value for t in Topic)}",
                      field="topic") from None


def compose(topic: Topic, quoted: list[str], extra: list[str] | None = None) -> str:
    """A reply: the policy's words quoted, then anything the desk's records add."""
    if not quoted and not extra:
        return ("Our privacy policy does not address this question directly; an agent will "
                "answer you personally.")
    lines = ["Thank you for your question. Our privacy policy says:" if quoted else
             "Thank you for your question."]
    lines += [f'  "{q}"' for q in quoted]
    if extra:
        lines += ["", *extra]
    return "\n".join(lines)


def answer(desk: Desk, *, topic: Topic | str, at: datetime | None = None) -> Answer:
    """A canned answer to a general question, from the policy in force at ``at`` (now)."""
    chosen = parse_topic(topic)
    with desk.db.session() as s:
        desk.actor(s)
        version = policy.in_force(s, at or desk.now(), desk)
        if version is None:
            raise NotFound("no privacy policy is registered: add one with 'helpdesk policy add'")
        quoted = sentences(version.text, *TOPIC_WORDS[chosen])
        return Answer(chosen, tuple(quoted), compose(chosen, quoted), version.id)

