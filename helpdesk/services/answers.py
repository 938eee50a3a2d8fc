"""Answers drawn from the privacy policy text at run time.

The policy is split into its Parts by their headings ("Part III. Access to Your Information");
each case kind is governed by the Part whose heading names its subject, and canned answers quote
the sentences of the version in force that speak to the question. Nothing here bakes in the
company's wording: a new policy version changes the answers without a code change.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from helpdesk import policytext
from helpdesk.db.models import PolicyVersion
from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid, NotFound
from helpdesk.policytext import PolicyPart, paragraphs, parts
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
    """The Part governing ``kind``: the first whose heading names it; when no heading does
    ("Part III. Your Information"), the Part with most sentences about the kind's topic."""
    found = parts(text)
    for word in KIND_HEADINGS[kind]:
        for part in found:
            if re.search(rf"\b{re.escape(word)}\b", part.title, re.IGNORECASE):
                return part
    topic = KIND_TOPICS[kind]
    counts = Counter(p.heading for p, _, topics in sentence_topics(text)
                     if p is not None and topic in topics)
    best = max(found, key=lambda p: counts[p.heading], default=None)
    return best if best is not None and counts[best.heading] else None


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
    COLLECTION = "collection"  # what the company collects, and where
    COOKIES = "cookies"
    WEB_BUGS = "web_bugs"
    CHILDREN = "children"
    USAGE = "usage"  # what personal information is used for
    ANONYMOUS_DATA = "anonymous_data"  # anonymous, aggregated data
    MARKETING = "marketing"  # marketing mail, opting out, "crucial information"
    CHANGE_OF_USE = "change_of_use"
    SHARING = "sharing"  # who may receive data (the register answers for one customer)
    LEGAL_DISCLOSURE = "legal_disclosure"  # to the government when the law requires it
    LINKS = "links"  # links to other web sites
    POSTINGS = "postings"  # the sites' public forums
    SALE = "sale"
    ACCESS_RIGHTS = "access_rights"  # correcting or deleting one's information
    ARCHIVES = "archives"  # copies left in archival databases
    SECURITY = "security"
    MODIFICATIONS = "modifications"  # how the policy is amended
    CONTACT = "contact"  # questions and disputes

    @property
    def label(self) -> str:
        """As people write it: "links", "web bugs", "anonymous data"."""
        return self.value.replace("_", " ")


#: Patterns (on the case-folded sentence) that say a sentence is about a topic, with weights:
#: a sentence answers the topics that score highest for it, so a sentence that merely shares a
#: word with a topic ("by posting the amended version") goes to the topic it is about.
TOPIC_CUES: dict[Topic, tuple[tuple[str, int], ...]] = {
    Topic.COLLECTION: ((r"\b(?:we|it|sites?) (?:may |will |also )?(?:collect|gather)s?\b", 1),
                       (r"\bvoluntarily provide\b", 1), (r"\byou may give us\b", 1),
                       (r"\binformation including\b", 1)),
    Topic.COOKIES: ((r"\bcookies?\b", 1),),
    Topic.WEB_BUGS: ((r"\bweb bugs?\b", 1), (r"\bclear (?:gifs?|pixels?)\b", 1),
                     (r"\bweb beacons?\b", 1), (r"similar technologies", 1)),
    Topic.CHILDREN: ((r"\bchild", 1), (r"\bunder 13\b", 1), (r"\byounger\b", 1),
                     (r"\bparents?\b", 1)),
    Topic.USAGE: ((r"\b(?:is|are) used\b", 1), (r"\bused to\b", 1),
                  (r"\bserves? to\b", 1), (r"\bwe study how\b", 1),
                  (r"\bto fulfill? orders\b", 1)),
    Topic.ANONYMOUS_DATA: ((r"\banonymous", 1), (r"\baggregat", 1), (r"\bstatistic", 1)),
    Topic.MARKETING: ((r"\bmarketing\b", 1), (r"\bopt(?:-| )?out\b", 1),
                      (r"\bchoose not to\b", 1), (r"\bcrucial\b", 1),
                      (r"\bno longer want\b", 1), (r"\bunsubscrib", 1)),
    Topic.CHANGE_OF_USE: ((r"\bchange (?:in )?(?:the way|how) we use\b", 2),
                          (r"\b(?:do not|don't) (?:wish|want) .{0,40}\bto use\b", 2),
                          (r"\bshould you not want\b", 2), (r"\bopt(?:-| )?out\b", 1),
                          (r"\bchoose not to\b", 1)),
    Topic.SHARING: ((r"\bshar(?:e|ed|ing)\b", 1), (r"\bthird[- ]part", 1),
                    (r"\bcontractors?\b", 1), (r"\bservice providers?\b", 1),
                    (r"\baffiliates?\b", 1), (r"\bpartners?\b", 1), (r"\bacquir", 1),
                    (r"\bdisclos", 1), (r"\bpass information\b", 1)),
    Topic.LEGAL_DISCLOSURE: ((r"\bgovernment\b", 1), (r"\blegally required\b", 1),
                             (r"\bauthorities\b", 1), (r"\blaw requires\b", 1),
                             (r"\bcourt order", 1)),
    Topic.LINKS: ((r"\blinks? to other\b", 1), (r"\bother web ?sites?\b", 1),
                  (r"\bother sites\b", 1), (r"\blink to\b", 1)),
    Topic.POSTINGS: ((r"\bpostings\b", 1), (r"\bposted in\b", 1), (r"\bpost in\b", 1),
                     (r"\bforums?\b", 1), (r"\bpublicly available\b", 1),
                     (r"\bread by everyone\b", 1), (r"\bsubmissions\b", 1)),
    Topic.SALE: ((r"\bsell\b", 1), (r"\bsold\b", 1)),
    Topic.ACCESS_RIGHTS: ((r"\bcorrect(?:ed|ion)?\b", 1), (r"\bdelet", 1),
                          (r"\baccess to your\b", 1), (r"\bcopy of your\b", 1)),
    Topic.ARCHIVES: ((r"\barchiv", 1), (r"\bbackups?\b", 1)),
    Topic.SECURITY: ((r"\bsecur", 1), (r"\bprotected\b", 1), (r"\bbusiness need\b", 1),
                     (r"\bneed personal information for their work\b", 1),
                     (r"\bintercept", 1), (r"\bunlawful", 1), (r"\bcriminals?\b", 1),
                     (r"\bsecurity risks?\b", 1), (r"\bbeyond our control\b", 1),
                     (r"\bcannot fully ensure\b", 1)),
    Topic.MODIFICATIONS: ((r"\bamend", 1), (r"\bmodif", 1), (r"\brevised version\b", 1),
                          (r"\bchange this (?:notice|policy|privacy policy)\b", 1),
                          (r"\bat any time by posting\b", 1)),
    Topic.CONTACT: ((r"\bdisputes?\b", 1), (r"\bquestions?\b", 1),
                    (r"\bplease contact\b", 1)),
}

def likely_topic(text: str) -> Topic | None:
    """The topic a customer's letter most likely asks about (the one whose cues it matches
    most), or None when it matches none."""
    scores = _scores(text)
    best = max(scores, key=lambda t: scores[t])
    return best if scores[best] else None


def _scores(text: str) -> dict[Topic, int]:
    """How strongly ``text`` speaks of each topic (the weights of the cues it matches)."""
    folded = text.casefold()
    return {topic: sum(w for cue, w in cues if re.search(cue, folded))
            for topic, cues in TOPIC_CUES.items()}


#: A sentence with no cue of its own that points back ("such", "those", "your request") is
#: about what the sentence before it in the same paragraph is about.
_BACK_REFERENCE = re.compile(r"\b(?:such|those|these|your request)\b", re.IGNORECASE)


def sentence_topics(text: str) -> list[tuple[PolicyPart | None, str, frozenset[Topic]]]:
    """Every sentence of ``text`` (a policy body, header lines removed) with the topics it is
    about: those that score highest for it, or, for a sentence with no cue that refers back,
    the topics of the sentence before it."""
    out: list[tuple[PolicyPart | None, str, frozenset[Topic]]] = []
    for part, found in paragraphs(text):
        previous: frozenset[Topic] = frozenset()
        for sentence in found:
            scores = _scores(sentence)
            best = max(scores.values())
            if best:
                topics = frozenset(t for t, v in scores.items() if v == best)
            elif _BACK_REFERENCE.search(sentence):
                topics = previous
            else:
                topics = frozenset()
            out.append((part, sentence, topics))
            previous = topics
    return out


def quotes(version: PolicyVersion, topic: Topic) -> list[str]:
    """The sentences of ``version`` that answer ``topic``, in the policy's order (never its
    file's header lines)."""
    body = policytext.body(version.text, version.header_lines)
    return [sentence for _, sentence, topics in sentence_topics(body) if topic in topics]


#: The topic of each kind's question, for finding its Part when no heading names it.
KIND_TOPICS: dict[CaseKind, Topic] = {
    CaseKind.QUESTION: Topic.CONTACT,
    CaseKind.MARKETING_OPT_OUT: Topic.MARKETING,
    CaseKind.ACCESS: Topic.ACCESS_RIGHTS,
    CaseKind.CORRECTION: Topic.ACCESS_RIGHTS,
    CaseKind.DELETION: Topic.ACCESS_RIGHTS,
    CaseKind.OBJECTION: Topic.CHANGE_OF_USE,
    CaseKind.DISPUTE: Topic.CONTACT,
    CaseKind.UNDER_13: Topic.CHILDREN,
    CaseKind.POSTING_REMOVAL: Topic.POSTINGS,
}


@dataclass(frozen=True, slots=True)
class TopicCoverage:
    """Which Parts of a version each topic quotes, and the Parts no topic answers."""

    topics: dict[str, tuple[str, ...]]  # topic -> Part headings quoted (empty: no answer)
    unanswered_parts: tuple[str, ...]


def coverage(text: str, header_lines: int) -> TopicCoverage:
    """What the topics quote of a policy text (with its header lines left out)."""
    found = sentence_topics(policytext.body(text, header_lines))
    per_topic: dict[str, list[str]] = {t.value: [] for t in Topic}
    answered: set[str] = set()
    for part, _, topics in found:
        heading = part.heading if part else "(introduction)"
        for topic in topics:
            if heading not in per_topic[topic.value]:
                per_topic[topic.value].append(heading)
            answered.add(heading)
    parts = [p.heading for p in policytext.parts(text)]
    return TopicCoverage({k: tuple(v) for k, v in per_topic.items()},
                         tuple(h for h in parts if h not in answered))


def topic_coverage(desk: Desk) -> TopicCoverage:
    """The coverage of the version in force now."""
    with desk.db.session() as s:
        desk.actor(s)
        version = policy.in_force(s, desk.now(), desk)
        if version is None:
            raise NotFound("no privacy policy is registered: add one with 'helpdesk policy add'")
        return coverage(version.text, version.header_lines)


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
        quoted = quotes(version, chosen)
        return Answer(chosen, tuple(quoted), compose(chosen, quoted), version.id)

