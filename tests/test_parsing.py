"""What people type for ids, dates and lists, read once for the desk and the CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from helpdesk.errors import Invalid
from helpdesk.services import parsing
from tests.hostile import HOSTILE

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("typed", ["42", "#42", " # 42 ", 42])
def test_record_ids_with_or_without_hash(typed: str | int) -> None:
    assert parsing.record_id(typed, what="case", field="case") == 42


@pytest.mark.parametrize("typed", ["", "0", "-3", "4.2", "forty", "#", "1" * 20, "٤٢", None])
def test_not_an_id_names_the_field(typed: str | None) -> None:
    with pytest.raises(Invalid) as err:
        parsing.record_id(typed, what="deletion request case", field="case")
    assert err.value.field == "case" and "deletion request case" in err.value.message
    assert parsing.maybe_id(typed) is None


def test_optional_ids_and_lists_of_ids() -> None:
    assert parsing.optional_id("  ", what="customer", field="customer") is None
    assert parsing.record_ids(["#1", "2"], what="case", field="case") == [1, 2]
    with pytest.raises(Invalid):
        parsing.record_ids(["1", "bob"], what="case", field="case")


def test_days() -> None:
    assert parsing.day("2026-02-28", field="due") == date(2026, 2, 28)
    assert parsing.day("", field="due") is None
    for bad in ("2026-02-30", "20260228", "next week", "2026-2-1"):
        with pytest.raises(Invalid) as err:
            parsing.day(bad, field="due", label="the new due date")
        assert err.value.message == "the new due date must be a date like 2026-03-31"
    with pytest.raises(Invalid, match="required"):
        parsing.required_day(" ", field="due")


def test_range_bounds_are_local_days_or_instants() -> None:
    start = parsing.bound("2026-03-29", BERLIN, end=False, field="since")
    end = parsing.bound("2026-03-29", BERLIN, end=True, field="until")
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # local midnight, winter time
    assert end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # the whole day, summer time after
    instant = parsing.bound("2026-03-01T10:00", BERLIN, end=False, field="since")
    assert instant is not None and instant.utcoffset() is not None
    with pytest.raises(Invalid) as err:
        parsing.bound("yesterday", BERLIN, end=False, field="--from")
    assert err.value.field == "--from"


def test_comma_lists_and_letter_references() -> None:
    assert parsing.items(" name, e-mail ,, address ") == ["name", "e-mail", "address"]
    assert parsing.items(None) == []
    assert parsing.message_ref("message #12") == (12, None)
    assert parsing.message_ref("letter 2026/4") == (None, "letter 2026/4")
    assert parsing.message_ref("") == (None, None)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_refused_cleanly(text: str) -> None:
    for call in (lambda: parsing.optional_id(text, what="case", field="case"),
                 lambda: parsing.day(text, field="since"),
                 lambda: parsing.bound(text, BERLIN, end=True, field="until")):
        try:
            call()
        except Invalid as exc:
            assert exc.field in {"case", "since", "until"}
