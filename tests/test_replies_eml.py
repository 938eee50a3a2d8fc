"""Outgoing replies: the .eml parses back with the right threading headers and is recorded."""

from __future__ import annotations

import email
import json
from dataclasses import replace
from email import policy as email_policy
from pathlib import Path

import pytest
from sqlmodel import col, select

from helpdesk.db.models import AuditEvent, CaseEvent, Message
from helpdesk.domain import CaseKind, MessageDirection, SuppressionReason
from helpdesk.errors import Conflict, Invalid
from helpdesk.services import replies, suppression, templates
from helpdesk.services.context import Desk
from tests.hostile import HOSTILE
from tests.replies_support import add_customer, add_policy, open_case, set_customer


def _parse(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email_policy.default)  # type: ignore[return-value]


def test_eml_parses_back_with_threading_headers_and_case_tag(desk: Desk, tmp_path: Path) -> None:
    add_policy(desk)
    customer = add_customer(desk)
    case_id = open_case(desk, customer, CaseKind.DELETION,
                        references="<root@mail.example> <second@mail.example>")
    out = tmp_path / "reply.eml"
    result = replies.write(desk, case_id=case_id, template="deletion_done", out=out)

    msg = _parse(out)
    assert msg["Message-ID"] == result.message_id
    assert result.message_id.endswith("@example.com>")  # the configured desk domain
    assert msg["In-Reply-To"] == f"<letter-{case_id}@mail.example>"
    assert msg["References"].split() == ["<root@mail.example>", "<second@mail.example>",
                                         f"<letter-{case_id}@mail.example>"]
    assert f"[Case #{case_id}]" in msg["Subject"]
    assert msg["To"].addresses[0].addr_spec == "jana@example.org"
    assert msg["To"].addresses[0].display_name == "Jana Nováková"
    assert msg["From"].addresses[0].addr_spec == "info@example.com"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Language"] == "en"
    assert "Dear Jana Nováková," in msg.get_content()
    assert msg["Date"].datetime == desk.now()


def test_reply_is_recorded_as_outbound_message_and_audited_without_pii(
    desk: Desk, tmp_path: Path
) -> None:
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)
    before = replies.preview(desk, case_id=case_id, template="deletion_done")
    result = replies.write(desk, case_id=case_id, template="deletion_done",
                           out=tmp_path / "r.eml")
    with desk.db.session() as s:
        m = s.get(Message, result.message_row_id)
        assert m is not None and m.direction == MessageDirection.OUTBOUND
        assert (m.case_id, m.message_id) == (case_id, result.message_id)
        assert m.in_reply_to == f"<letter-{case_id}@mail.example>"
        assert m.to_address == "jana@example.org" and m.body == before.body
        events = s.exec(select(CaseEvent.action, CaseEvent.to_value)
                        .where(CaseEvent.case_id == case_id)).all()
        assert ("reply", "deletion_done") in events
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "reply.write")).one()
    dumped = json.dumps(audit.details, ensure_ascii=False)
    assert audit.object_id == case_id
    for personal in ("Jana", "jana@", "example.org", "deleted"):
        assert personal not in dumped


def test_reply_without_an_inbound_message_id_still_carries_the_tag(
    desk: Desk, tmp_path: Path
) -> None:
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION, message_id=None)
    replies.write(desk, case_id=case_id, template="deletion_done", out=tmp_path / "r.eml")
    msg = _parse(tmp_path / "r.eml")
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert msg["Subject"].endswith(f"[Case #{case_id}]")


def test_hostile_names_produce_a_parseable_single_line_subject(
    desk: Desk, tmp_path: Path
) -> None:
    add_policy(desk)
    templates.create(desk, name="named", subject="For ${customer_name}", body="Hi ${customer_name}")
    customer = add_customer(desk)
    case_id = open_case(desk, customer, CaseKind.QUESTION)
    for i, value in enumerate(HOSTILE):
        if "\ud800" in value or "\x00" in value:
            continue  # not storable in PostgreSQL text; every input path cleans them
        set_customer(desk, customer, name=value)
        out = tmp_path / f"{i}.eml"
        replies.write(desk, case_id=case_id, template="named", out=out)
        msg = _parse(out)
        assert msg["Subject"].endswith(f"[Case #{case_id}]")
        assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
        assert msg["To"].addresses[0].addr_spec == "jana@example.org"
        assert msg.get_content().startswith("Hi ")


def test_marketing_is_refused_to_opted_out_people_but_transactional_goes(
    desk: Desk, tmp_path: Path
) -> None:
    add_policy(desk)
    templates.create(desk, name="promo", subject="New offers", body="Dear ${customer_name}",
                     transactional=False)
    customer = add_customer(desk)
    case_id = open_case(desk, customer, CaseKind.QUESTION)
    assert replies.preview(desk, case_id=case_id, template="promo").transactional is False
    set_customer(desk, customer, marketing_opted_out=True)
    with pytest.raises(Invalid, match="opted out of marketing"):
        replies.write(desk, case_id=case_id, template="promo", out=tmp_path / "p.eml")
    assert not (tmp_path / "p.eml").exists()
    replies.write(desk, case_id=case_id, template="acknowledgement", out=tmp_path / "a.eml")
    set_customer(desk, customer, marketing_opted_out=False, under_13=True)
    with pytest.raises(Invalid, match="under 13"):
        replies.preview(desk, case_id=case_id, template="promo")


def test_existing_file_and_failed_write_record_nothing(desk: Desk, tmp_path: Path) -> None:
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)
    out = tmp_path / "r.eml"
    out.write_text("keep me")
    with pytest.raises(Conflict, match="already exists"):
        replies.write(desk, case_id=case_id, template="deletion_done", out=out)
    with pytest.raises(Invalid, match="does not exist"):
        replies.write(desk, case_id=case_id, template="deletion_done",
                      out=tmp_path / "missing" / "r.eml")
    assert out.read_text() == "keep me"
    with desk.db.session() as s:
        assert not s.exec(select(Message).where(
            Message.direction == MessageDirection.OUTBOUND)).all()
    replies.write(desk, case_id=case_id, template="deletion_done", out=out, overwrite=True)
    assert _parse(out)["Subject"].endswith(f"[Case #{case_id}]")


def test_stale_case_version_is_a_conflict(desk: Desk, tmp_path: Path) -> None:
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)
    first = replies.write(desk, case_id=case_id, template="deletion_done",
                          out=tmp_path / "1.eml")
    with pytest.raises(Conflict):
        replies.write(desk, case_id=case_id, template="deletion_done", out=tmp_path / "2.eml",
                      expected_version=first.case_version - 1)
    assert not (tmp_path / "2.eml").exists()


def test_a_reply_moves_the_case_version_even_within_the_same_instant(
        desk: Desk, tmp_path: Path) -> None:
    """Someone who looked at the case before a reply holds a stale copy, even when the reply
    was written at the very same clock reading (the desk's clock is pinned here)."""
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)
    seen = replies.write(desk, case_id=case_id, template="deletion_done",
                         out=tmp_path / "1.eml").case_version
    again = replies.write(desk, case_id=case_id, template="deletion_done",
                          out=tmp_path / "2.eml", expected_version=seen)
    assert again.case_version > seen
    with pytest.raises(Conflict):
        replies.write(desk, case_id=case_id, template="deletion_done", out=tmp_path / "3.eml",
                      expected_version=seen)


def test_erased_customer_gets_no_reply(desk: Desk) -> None:
    add_policy(desk)
    customer = add_customer(desk)
    case_id = open_case(desk, customer, CaseKind.DELETION)
    set_customer(desk, customer, erased_at=desk.now())
    with pytest.raises(Conflict, match="erased"):
        replies.preview(desk, case_id=case_id, template="deletion_done")


def test_the_customers_answer_threads_back_by_the_recorded_message_id(
    desk: Desk, tmp_path: Path
) -> None:
    """The intake matches In-Reply-To against recorded Message-IDs: ours must be findable."""
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)
    result = replies.write(desk, case_id=case_id, template="deletion_done",
                           out=tmp_path / "r.eml")
    sent = _parse(tmp_path / "r.eml")["Message-ID"]
    with desk.db.session() as s:
        owner = s.exec(select(Message.case_id).where(col(Message.message_id) == sent)).one()
    assert owner == case_id and sent == result.message_id


def test_marketing_is_refused_to_a_suppressed_address(desk: Desk, tmp_path: Path) -> None:
    add_policy(desk)
    templates.create(desk, name="promo", subject="New offers", body="Dear ${customer_name}",
                     transactional=False)
    customer = add_customer(desk, email="Listed@Example.org")
    case_id = open_case(desk, customer, CaseKind.QUESTION)
    with desk.db.session(write=True) as s:
        suppression.add(s, None, digest=suppression.email_hash(desk, "listed@example.org"),
                        reason=SuppressionReason.ERASURE, source="test", now=desk.now())
    with pytest.raises(Invalid, match="suppression list"):
        replies.write(desk, case_id=case_id, template="promo", out=tmp_path / "p.eml")
    replies.write(desk, case_id=case_id, template="acknowledgement", out=tmp_path / "a.eml")


def test_message_id_domain_follows_the_configured_desk_address(
    desk: Desk, tmp_path: Path
) -> None:
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)
    other = Desk(db=desk.db, settings=replace(desk.settings, mail_from="privacy@corp.test"),
                 actor_name=desk.actor_name, clock=desk.clock)
    result = replies.write(other, case_id=case_id, template="deletion_done",
                           out=tmp_path / "r.eml")
    msg = _parse(tmp_path / "r.eml")
    assert result.message_id.endswith("@corp.test>")
    assert msg["From"].addresses[0].addr_spec == "privacy@corp.test"
    broken = Desk(db=desk.db, settings=replace(desk.settings, mail_from="not an address"),
                  actor_name=desk.actor_name, clock=desk.clock)
    with pytest.raises(Invalid, match="mail_from"):
        replies.preview(broken, case_id=case_id, template="deletion_done")
