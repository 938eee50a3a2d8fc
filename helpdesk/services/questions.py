"""Question cases answered from the policy: pick a topic, read the reply, send it.

The reply quotes the sentences of the policy version the case falls under (the one in force
when the question arrived) that answer the topic (:func:`helpdesk.services.answers.quotes`,
never the file's header lines), addressed and threaded like every reply, and recorded on the
case as an outbound message when it is written.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from helpdesk.db.models import Agent, Case, PolicyVersion
from helpdesk.errors import NotFound
from helpdesk.services import answers, audit, cases, policy, replies
from helpdesk.services.context import Desk
from helpdesk.services.replies import ReplyDraft, WrittenReply
from helpdesk.services.templates import case_tag

#: The language answers are written in (the policy text is the company's, in English).
LANGUAGE = "en"


def _draft(s: Session, desk: Desk, actor: Agent, case: Case, topic: answers.Topic
           ) -> ReplyDraft:
    version: PolicyVersion | None = None
    if case.policy_version_id is not None:
        version = s.get(PolicyVersion, case.policy_version_id)
    version = version or policy.in_force(s, case.received_at, desk)
    if version is None:
        raise NotFound("no privacy policy is registered: add one with 'helpdesk policy add'")
    quoted = answers.quotes(version, topic)
    body = answers.compose(topic, quoted) + f"\n\nKind regards,\n{actor.display_name}\n"
    return replies.draft_for(
        s, desk, case, name=f"answer:{topic.value}", language=LANGUAGE, transactional=True,
        subject=f"Your question about {topic.label} {case_tag(case.id or 0)}", body=body)


def preview(desk: Desk, *, case_id: int, topic: answers.Topic | str) -> ReplyDraft:
    """The answer as it would be sent, for the agent to read first (an audited view)."""
    chosen = answers.parse_topic(topic)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = cases.load(s, case_id)
        draft = _draft(s, desk, actor, case, chosen)
        audit.record(s, desk, actor, "reply.preview", "case", case.id, topic=chosen.value)
        return draft


def reply(
    desk: Desk, *, case_id: int, topic: answers.Topic | str, out: Path | None = None,
    overwrite: bool = False, expected_version: int | None = None,
) -> WrittenReply:
    """Write the answer (the .eml to ``out`` when given) and record it on the case."""
    chosen = answers.parse_topic(topic)
    with replies.kept_if_committed() as files, desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = cases.load_for_change(s, case_id, expected_version)
        draft = _draft(s, desk, actor, case, chosen)
        return replies.store(s, desk, actor, case, draft, out=out, overwrite=overwrite,
                             files=files, topic=chosen.value)
