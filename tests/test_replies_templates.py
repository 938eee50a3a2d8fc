"""Reply templates: every shipped template renders for every kind it serves, safely and fully."""

from __future__ import annotations

from datetime import date

import pytest

from helpdesk.domain import VERIFIED_KINDS, CaseKind, Role
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.services import agents, replies, supervisor, templates
from helpdesk.services.context import Desk
from tests.hostile import HOSTILE
from tests.replies_support import (
    PART_MARKERS,
    add_customer,
    add_policy,
    open_case,
    set_case,
    set_customer,
)


def _kinds_for(t: templates._Shipped) -> list[CaseKind]:
    if "${verification_code}" in t.body:  # the requests whose requester must be verified
        return sorted(VERIFIED_KINDS)
    return [CaseKind(t.kind)] if t.kind else list(CaseKind)


def test_shipped_set_covers_every_step_and_german_acknowledgement() -> None:
    shipped = {(t.name, t.language) for t in templates.shipped()}
    for name in ("acknowledgement", "opt_out_confirmation", "access_export_cover",
                 "correction_done", "deletion_done", "objection_handled", "dispute_acknowledged",
                 "dispute_resolved", "deadline_override"):
        assert (name, "en") in shipped, name
    assert ("acknowledgement", "de") in shipped
    for t in templates.shipped():  # every shipped text uses only known placeholders
        templates.check_placeholders(t.subject, field="subject")
        templates.check_placeholders(t.body, field="body")


def test_every_template_renders_for_every_kind_it_serves(desk: Desk) -> None:
    add_policy(desk)
    customer = add_customer(desk)
    names = iter([h for h in HOSTILE if h.strip() and "\ud800" not in h and "\x00" not in h]
                 * 10)
    for t in templates.shipped():
        for kind in _kinds_for(t):
            name = next(names)
            set_customer(desk, customer, name=name)
            case_id = open_case(desk, customer, kind, language=t.language, message_id=None)
            set_case(desk, case_id, outcome="We removed the posting.")
            late = "${days_overdue}" in t.body  # a letter for overdue cases: make one late
            supervisor.override_deadline(desk, case_id=case_id,
                                         new_due=date(2026, 3, 8) if late else date(2026, 5, 30),
                                         reason="Archive vendor needs two more weeks.")
            draft = replies.preview(desk, case_id=case_id, template=t.name)
            assert draft.language == t.language
            assert "$" not in draft.body and "$" not in draft.subject, (t.name, kind)
            assert draft.subject.endswith(f"[Case #{case_id}]")
            assert f"{name}," in draft.body  # verbatim, markup and escapes included
            if late:
                assert " 2 " in draft.body and "2026-03-08" in draft.body, (t.name, kind)
            if "${policy_text}" in t.body:
                assert PART_MARKERS[kind] in draft.body, (t.name, kind)
                others = set(PART_MARKERS.values()) - {PART_MARKERS[kind]}
                assert not any(m in draft.body for m in others), (t.name, kind)


def test_opt_out_and_deletion_letters_say_the_plain_things(desk: Desk) -> None:
    add_policy(desk)
    customer = add_customer(desk)
    opt = replies.preview(desk, template="opt_out_confirmation",
                          case_id=open_case(desk, customer, CaseKind.MARKETING_OPT_OUT))
    assert "still send you crucial information" in opt.body
    gone = replies.preview(desk, template="deletion_done",
                           case_id=open_case(desk, customer, CaseKind.DELETION))
    assert "archival purposes" in gone.body and "PART-THREE archival databases" in gone.body


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_inserted_verbatim_and_never_expanded(value: str) -> None:
    values: dict[str, str | None] = dict.fromkeys(templates.PLACEHOLDERS, "x")
    values["customer_name"] = value + " ${policy_text} $case_tag {0} %s"
    out = templates.render_text("Dear ${customer_name}, see ${case_tag}.", values, field="body")
    assert out == f"Dear {values['customer_name']}, see x."


def test_hostile_customer_names_through_the_whole_reply(desk: Desk) -> None:
    add_policy(desk)
    customer = add_customer(desk)
    case_id = open_case(desk, customer, CaseKind.DELETION)
    for value in HOSTILE:
        if "\ud800" in value or "\x00" in value:
            continue  # not storable in a PostgreSQL text column; cleaned on every input path
        set_customer(desk, customer, name=value)
        draft = replies.preview(desk, case_id=case_id, template="deletion_done")
        assert f"Dear {value}," in draft.body
        assert "${" not in draft.body


def test_a_missing_value_is_refused_naming_the_placeholder(desk: Desk) -> None:
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)
    with pytest.raises(Invalid, match="override_due_date"):
        replies.preview(desk, case_id=case_id, template="deadline_override")
    objection = open_case(desk, add_customer(desk, email="o@example.org"), CaseKind.OBJECTION)
    with pytest.raises(Invalid, match="outcome"):
        replies.preview(desk, case_id=objection, template="objection_handled")


def test_a_case_without_policy_version_cannot_quote_the_policy(desk: Desk) -> None:
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)  # no policy registered
    with pytest.raises(Invalid, match="policy_version"):
        replies.preview(desk, case_id=case_id, template="deletion_done")


def test_unknown_placeholders_and_stray_dollars_are_refused_on_save(desk: Desk) -> None:
    with pytest.raises(Invalid, match=r"\$\{customer_nmae\}"):
        templates.update(desk, name="deletion_done", body="Dear ${customer_nmae}")
    with pytest.raises(Invalid, match="line 2"):
        templates.update(desk, name="deletion_done", body="Dear you,\nit costs $ 5")
    t = templates.update(desk, name="deletion_done", body="It costs $$5, ${customer_name}.")
    assert t.version == 2 and t.updated_by == "alice"


def test_edits_are_supervisor_only_versioned_and_survive_reseeding(desk: Desk) -> None:
    agents.add(desk, name="bob", role=Role.AGENT)
    bob = desk.as_agent("bob")
    with pytest.raises(Forbidden):
        templates.update(bob, name="deletion_done", subject="Changed")
    with pytest.raises(Forbidden):
        templates.create(bob, name="promo", subject="Hi", body="Offer")
    first = templates.update(desk, name="deletion_done", subject="Deleted: ${case_tag}")
    with pytest.raises(Conflict):
        templates.update(desk, name="deletion_done", subject="Again",
                         expected_version=first.version - 1)
    listed = {(t.name, t.language): t for t in templates.list_templates(bob)}
    assert listed[("deletion_done", "en")].subject == "Deleted: ${case_tag}"
    assert len(listed) == len(templates.shipped())  # seeding added nothing twice


def test_language_follows_the_customer_with_english_fallback(desk: Desk) -> None:
    add_policy(desk)
    customer = add_customer(desk)
    de = open_case(desk, customer, CaseKind.ACCESS, language="de", message_id="<de@x.example>")
    fr = open_case(desk, customer, CaseKind.ACCESS, language="fr", message_id="<fr@x.example>")
    assert replies.preview(desk, case_id=de, template="acknowledgement").body.startswith(
        "Guten Tag")
    assert replies.preview(desk, case_id=fr, template="acknowledgement").language == "en"
    assert replies.preview(desk, case_id=de, template="acknowledgement",
                           language="en").language == "en"
    # a language without its own text falls back to English too
    assert replies.preview(desk, case_id=de, template="access_export_cover").language == "en"


def test_a_template_for_another_kind_or_an_unknown_one_is_refused(desk: Desk) -> None:
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.ACCESS)
    with pytest.raises(Invalid, match="Deletion cases"):
        replies.preview(desk, case_id=case_id, template="deletion_done")
    with pytest.raises(NotFound):
        replies.preview(desk, case_id=case_id, template="no_such_template")
