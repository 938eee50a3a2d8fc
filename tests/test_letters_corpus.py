"""The letters corpus holds itself to what it claims: labels, mix per language, parseable mail.

These tests check the corpus, not any classifier: that every file is labelled honestly enough to
be measured against (valid kinds, primary kind the most demanding one asked for, reminders that
point at real earlier letters), that each language carries the mix intake must cope with, and
that the tags which can be read off the message itself (threading, date skew, encodings, raw
8-bit headers) match the bytes.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from functools import cache

import pytest

from tests.letters import LANGUAGES, PRECEDENCE, ROOT, Letter, labels, load

LETTERS = load()
BY_PATH = {letter.path: letter for letter in LETTERS}
FIELDS = {
    "language": str,
    "kind": str,
    "also": list,
    "reminder": bool,
    "auto_reply": bool,
    "raw_8bit_headers": bool,
    "why": str,
}
OPTIONAL = {"refers_to": str, "tags": list}
#: Tags a person assigns by reading the letter.
READ_TAGS = {
    "formal", "threat", "quoted", "outlook-quote", "forwarded", "one-liner", "withdrawal",
    "id-block", "disclaimer", "typos", "no-accents", "spam", "non-privacy", "long", "angry",
}
#: Tags the message itself proves; checked against the bytes below.
MESSAGE_TAGS = {
    "thread", "date-skew", "html", "base64", "quoted-printable", "attachment", "latin1", "rfc822",
}
MINIMUM_PER_LANGUAGE = 25
NAME = re.compile(r"^(?P<lang>[a-z]{2})/\d{3}-[a-z0-9]+(?:-[a-z0-9]+)*\.eml$")
ONE_DAY = 86400


def parse(letter: Letter) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(letter.raw)
    assert isinstance(msg, EmailMessage)
    return msg


def header_block(raw: bytes) -> bytes:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends)]


def received_at(msg: EmailMessage) -> datetime:
    """Receipt time on the topmost Received: header (the company's own server)."""
    top = msg.get_all("Received")[0]
    return parsedate_to_datetime(str(top).rsplit(";", 1)[1].strip())


@cache
def message_ids() -> dict[str, str]:
    return {str(parse(letter)["Message-ID"]).strip(): letter.path for letter in LETTERS}


def leaf_parts(msg: EmailMessage) -> list[EmailMessage]:
    return [part for part in msg.walk() if not part.is_multipart()]


# -- labels ------------------------------------------------------------------------------------


def test_every_file_is_labelled_and_every_label_has_a_file() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*.eml")}
    labelled = set(labels())
    assert files - labelled == set(), "files without labels"
    assert labelled - files == set(), "labels without files"


@pytest.mark.parametrize("path", sorted(labels()))
def test_label_fields_have_the_documented_types(path: str) -> None:
    label = labels()[path]
    match = NAME.match(path)
    assert match, f"{path}: name is not <lang>/<NNN>-<slug>.eml"
    assert set(label) - set(FIELDS) - set(OPTIONAL) == set(), "unknown label fields"
    for field, kind in FIELDS.items():
        assert isinstance(label.get(field), kind), f"{path}: {field} must be {kind.__name__}"
    for field, kind in OPTIONAL.items():
        value = label.get(field, kind())
        assert isinstance(value, kind), f"{path}: {field} must be {kind.__name__}"
    assert label["language"] == match["lang"]
    assert label["why"].strip(), f"{path}: why is empty"


@pytest.mark.parametrize("letter", LETTERS, ids=lambda letter: letter.path)
def test_kinds_are_valid_and_the_primary_is_the_most_demanding(letter: Letter) -> None:
    assert letter.kind in PRECEDENCE
    assert all(kind in PRECEDENCE for kind in letter.also), letter.also
    assert len(set(letter.kinds)) == len(letter.kinds), "a kind is listed twice"
    rank = PRECEDENCE.index
    assert all(rank(letter.kind) < rank(kind) for kind in letter.also), (
        f"{letter.path}: primary {letter.kind} is less demanding than one of {letter.also}"
    )


@pytest.mark.parametrize("letter", LETTERS, ids=lambda letter: letter.path)
def test_tags_come_from_the_known_vocabulary(letter: Letter) -> None:
    assert set(letter.tags) - READ_TAGS - MESSAGE_TAGS == set()
    assert len(set(letter.tags)) == len(letter.tags)


def test_auto_replies_ask_for_nothing() -> None:
    for letter in LETTERS:
        if letter.auto_reply:
            asks = (letter.kind, letter.also, letter.reminder)
            assert asks == ("question", (), False), letter.path


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_has_enough_letters(language: str) -> None:
    assert len(load(language)) >= MINIMUM_PER_LANGUAGE


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_carries_the_mix_intake_must_handle(language: str) -> None:
    letters = load(language)
    tagged = Counter(tag for letter in letters for tag in letter.tags)
    counts = {
        "formal letters with a complaint threat": sum(
            {"formal", "threat"} <= set(letter.tags) for letter in letters
        ),
        "reminders": sum(letter.reminder for letter in letters),
        "genuine disputes": sum("dispute" in letter.kinds for letter in letters),
        "auto-replies": sum(letter.auto_reply for letter in letters),
        "letters asking several things": sum(bool(letter.also) for letter in letters),
        "quoted replies": tagged["quoted"],
        "forwarded mails": tagged["forwarded"],
        "one-liners": tagged["one-liner"],
        "questions": sum(letter.kind == "question" and not letter.auto_reply for letter in letters),
        "marketing opt-outs": sum("marketing_opt_out" in letter.kinds for letter in letters),
    }
    minimum = {
        "formal letters with a complaint threat": 4,
        "reminders": 2,
        "genuine disputes": 2,
        "auto-replies": 1,
        "letters asking several things": 2,
        "quoted replies": 2,
        "forwarded mails": 1,
        "one-liners": 2,
        "questions": 2,
        "marketing opt-outs": 2,
    }
    short = {what: n for what, n in counts.items() if n < minimum[what]}
    assert short == {}, f"{language}: too few {short}"


def test_every_kind_is_represented_in_every_language() -> None:
    for language in LANGUAGES:
        present = {kind for letter in load(language) for kind in letter.kinds}
        assert present == set(PRECEDENCE), f"{language} lacks {set(PRECEDENCE) - present}"


def test_reminders_point_at_an_earlier_request() -> None:
    for letter in LETTERS:
        if not letter.reminder:
            assert letter.refers_to is None, f"{letter.path}: refers_to without reminder"
            continue
        assert letter.refers_to, f"{letter.path}: a reminder says what it reminds of"
        if not letter.refers_to.endswith(".eml"):
            continue
        earlier = BY_PATH.get(letter.refers_to)
        assert earlier is not None, f"{letter.path}: refers to missing {letter.refers_to}"
        assert earlier.language == letter.language
        assert not earlier.reminder, "refers_to names the original request, not another reminder"
        assert earlier.kind == letter.kind, f"{letter.path}: reminds of a {earlier.kind} request"
        assert received_at(parse(earlier)) < received_at(parse(letter))


def test_loader_filters_by_language_and_refuses_unknown_ones() -> None:
    assert {letter.language for letter in load("de")} == {"de"}
    assert len(LETTERS) == sum(len(load(language)) for language in LANGUAGES)
    with pytest.raises(ValueError, match="unknown language"):
        load("xx")


# -- the messages themselves -------------------------------------------------------------------


@pytest.mark.parametrize("letter", LETTERS, ids=lambda letter: letter.path)
def test_message_parses_without_losing_its_body(letter: Letter) -> None:
    msg = parse(letter)
    defects = [(part.get_content_type(), part.defects) for part in msg.walk() if part.defects]
    assert defects == []
    for header in ("From", "To", "Subject", "Date", "Message-ID", "Received"):
        assert msg[header] is not None, f"missing {header}"
    body = msg.get_body(preferencelist=("plain", "html"))
    assert body is not None
    assert body.get_content().strip()
    assert "\ufffd" not in body.get_content(), "body text decodes cleanly"


def test_message_ids_are_unique() -> None:
    ids = [str(parse(letter)["Message-ID"]).strip() for letter in LETTERS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("letter", LETTERS, ids=lambda letter: letter.path)
def test_raw_8bit_label_matches_the_header_bytes(letter: Letter) -> None:
    assert letter.raw_8bit_headers == (not header_block(letter.raw).isascii())


@pytest.mark.parametrize("letter", LETTERS, ids=lambda letter: letter.path)
def test_tags_read_off_the_message_match_it(letter: Letter) -> None:
    msg = parse(letter)
    leaves = leaf_parts(msg)
    texts = [part for part in leaves if part.get_content_maintype() == "text"]
    sent = parsedate_to_datetime(str(msg["Date"]))
    in_reply_to = str(msg.get("In-Reply-To", "")).strip()
    found = {
        "thread": in_reply_to in message_ids(),
        "date-skew": abs((sent - received_at(msg)).total_seconds()) > ONE_DAY,
        "html": any(part.get_content_type() == "text/html" for part in texts),
        "base64": any(part["Content-Transfer-Encoding"] == "base64" for part in texts),
        "quoted-printable": any(
            part["Content-Transfer-Encoding"] == "quoted-printable" for part in texts
        ),
        "attachment": any(
            part.get_content_maintype() in ("application", "image") for part in leaves
        ),
        "latin1": any(part.get_content_charset() == "iso-8859-1" for part in texts),
        "rfc822": any(part.get_content_type() == "message/rfc822" for part in msg.walk()),
    }
    claimed = {tag: tag in letter.tags for tag in MESSAGE_TAGS}
    assert claimed == found


def test_threaded_letters_answer_an_earlier_letter() -> None:
    ids = message_ids()
    for letter in LETTERS:
        msg = parse(letter)
        answered = ids.get(str(msg.get("In-Reply-To", "")).strip())
        if answered is None:
            continue
        assert answered != letter.path
        assert received_at(parse(BY_PATH[answered])) < received_at(msg), letter.path
