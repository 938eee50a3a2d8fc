"""Canned answers for every part of the policy, by topic: only the policy's own sentences,
never the file's header lines, never a sentence that merely shares a word with the topic."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from helpdesk.errors import NotFound
from helpdesk.services import answers, policy
from helpdesk.services.context import Desk
from tests.policy_texts import HEADER, POLICY_2019


@pytest.fixture
def loaded(desk: Desk) -> Desk:
    policy.add(desk, text=POLICY_2019, effective_on=date(2019, 6, 2))
    return desk


def _quoted(desk: Desk, topic: str) -> tuple[str, ...]:
    return answers.answer(desk, topic=topic).quoted


def test_every_topic_answers_and_every_part_is_answered(loaded: Desk) -> None:
    cov = answers.topic_coverage(loaded)
    assert cov.unanswered_parts == ()
    assert {t for t, parts in cov.topics.items() if not parts} == set()
    assert cov.topics["links"] == ("Part II. How We Use It",)
    assert cov.topics["security"] == ("Part IV. Storage and Security",)
    for topic in answers.Topic:
        for sentence in _quoted(loaded, topic):
            assert sentence in POLICY_2019, topic  # the policy's own words, verbatim
            assert sentence not in HEADER and "Privacy Notice - Larkspur" not in sentence


def test_a_sentence_sharing_a_word_is_not_an_answer(loaded: Desk) -> None:
    assert _quoted(loaded, "postings") == (
        "Our forums offer space for postings and comments.",
        "Anything you post in those forums can be read by everyone.")
    assert _quoted(loaded, "modifications") == (
        "We may change this notice at any time by posting the revised version on our web "
        "sites.",)
    assert _quoted(loaded, "sale") == ("We do not sell information gathered from our customers.",)
    assert not any("do not sell" in q for q in _quoted(loaded, "collection"))


def test_links_security_and_anonymous_data_quote_their_sentences(loaded: Desk) -> None:
    assert _quoted(loaded, "links") == (
        "Our sites link to other web sites, which follow their own privacy rules; what they "
        "collect is governed by their notices, not ours.",)
    security = _quoted(loaded, "security")
    assert security[0].startswith("Our databases are protected")
    assert any("intercept" in q for q in security)
    anonymous = _quoted(loaded, "anonymous_data")
    assert anonymous == ("It covers anonymous data and personal information alike.",
                         "Anonymous, aggregated statistics are reviewed every quarter to "
                         "understand which features are popular and where quality suffers.")


def test_a_sentence_that_points_back_follows_the_one_before(loaded: Desk) -> None:
    quoted = _quoted(loaded, "change_of_use")
    assert any(q.startswith("We will deal with your request") for q in quoted)
    assert any("change how we use it" in q for q in quoted)
    assert not any("archival backups" in q for q in quoted)


def test_answers_need_a_policy(desk: Desk) -> None:
    with pytest.raises(NotFound):
        answers.answer(desk, topic="links")
    with pytest.raises(NotFound):
        answers.topic_coverage(desk)


def test_cli_topics_and_answers(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = tmp_path / "notice.txt"
    text.write_text(POLICY_2019, encoding="utf-8")
    assert cli("answer", "topic", "links")[0] == 3  # no policy yet
    assert cli("policy", "add", str(text), "--effective", "2019-06-02", "--yes")[0] == 0
    code, out, _ = cli("answer", "topic", "links", "--json")
    result = json.loads(out)
    assert code == 0 and len(result["quoted"]) == 1 and "other web sites" in result["text"]
    code, out, _ = cli("answer", "topics", "--json")
    assert code == 0 and json.loads(out)["unanswered_parts"] == []
    code, out, _ = cli("answer", "topics")
    assert "anonymous_data" in out and "Part IV. Storage and Security" in out
    assert cli("answer", "topic", "weather")[0] == 2
