"""The deadline clock at its edges: month ends, 29 February, daylight-saving changes (including
zones whose midnight is skipped or repeated), receipts at 23:59 local time, and zones far east
and west of UTC. Expected values are worked out by hand from the rule "received on local day D
with an N-day clock: due at the end of local day D+N"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpdesk import clock
from helpdesk.config import Settings
from helpdesk.domain import CaseKind

US = timedelta(microseconds=1)


#: A policy version's periods as the 2015 text promises them (Part III: 30 days; VI: 90 days).
PERIODS = {"access": 30, "correction": 30, "deletion": 30, "objection": 30, "dispute": 90}


def _due(kind: CaseKind, received: datetime, zone: str) -> clock.Deadline:
    return clock.compute_deadline(kind, received, Settings(db_url="sqlite://", timezone=zone),
                                  PERIODS)


def _local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("received", "kind", "due_day"),
    [
        ((2026, 1, 31, 10, 0), CaseKind.ACCESS, date(2026, 3, 2)),  # 30 days over February
        ((2026, 1, 30, 10, 0), CaseKind.DELETION, date(2026, 3, 1)),
        ((2026, 3, 31, 10, 0), CaseKind.CORRECTION, date(2026, 4, 30)),
        ((2026, 12, 31, 23, 0), CaseKind.ACCESS, date(2027, 1, 30)),  # year end
        ((2026, 10, 2, 9, 0), CaseKind.DISPUTE, date(2026, 12, 31)),  # 90 days
    ],
)
def test_month_and_year_ends(received: tuple[int, ...], kind: CaseKind, due_day: date) -> None:
    zone = "Europe/Berlin"
    d = _due(kind, _local(zone, *received), zone)
    assert clock.due_date(d.effective, ZoneInfo(zone)) == due_day
    assert d.effective == clock.start_of_day(due_day + timedelta(days=1), ZoneInfo(zone))


def test_29_february() -> None:
    zone, tz = "Europe/Berlin", ZoneInfo("Europe/Berlin")
    onto = _due(CaseKind.ACCESS, _local(zone, 2028, 1, 30, 12, 0), zone)
    assert clock.due_date(onto.effective, tz) == date(2028, 2, 29)
    from_leap_day = _due(CaseKind.ACCESS, _local(zone, 2028, 2, 29, 12, 0), zone)
    assert clock.due_date(from_leap_day.effective, tz) == date(2028, 3, 30)
    # the same receipt date in a common year lands a day later in March
    common = _due(CaseKind.ACCESS, _local(zone, 2027, 1, 30, 12, 0), zone)
    assert clock.due_date(common.effective, tz) == date(2027, 3, 1)


def test_spring_forward_and_fall_back_keep_local_midnight() -> None:
    zone, tz = "Europe/Berlin", ZoneInfo("Europe/Berlin")
    # received in winter time (UTC+1), due after the 29 March 2026 change (UTC+2)
    spring = _due(CaseKind.ACCESS, _local(zone, 2026, 3, 20, 23, 30), zone)
    assert spring.effective == datetime(2026, 4, 19, 22, 0, tzinfo=UTC)  # 20 Apr 00:00 CEST
    assert clock.due_date(spring.effective, tz) == date(2026, 4, 19)
    # received in summer time, due after the 25 October 2026 change back
    autumn = _due(CaseKind.ACCESS, _local(zone, 2026, 10, 10, 0, 30), zone)
    assert autumn.effective == datetime(2026, 11, 9, 23, 0, tzinfo=UTC)  # 10 Nov 00:00 CET
    # the 23-hour and 25-hour days still count as one day each
    assert clock.days_open(_local(zone, 2026, 3, 28, 12), _local(zone, 2026, 3, 30, 12), tz) == 2


def test_zones_whose_midnight_is_skipped_or_repeated() -> None:
    tz = ZoneInfo("America/Santiago")
    # 6 Sep 2026: clocks jump from 24:00 Saturday to 01:00 Sunday, so the day starts at 01:00
    start = clock.start_of_day(date(2026, 9, 6), tz)
    assert start == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert clock.local_date(start, tz) == date(2026, 9, 6)
    assert clock.local_date(start - US, tz) == date(2026, 9, 5)
    # 5 Apr 2026: 23:00-24:00 Saturday happens twice; the day still starts once, after both
    start = clock.start_of_day(date(2026, 4, 5), tz)
    assert start == datetime(2026, 4, 5, 4, 0, tzinfo=UTC)
    assert clock.local_date(start - US, tz) == date(2026, 4, 4)
    d = _due(CaseKind.ACCESS, datetime(2026, 8, 7, 12, 0, tzinfo=tz), "America/Santiago")
    assert clock.due_date(d.effective, tz) == date(2026, 9, 6)
    assert d.effective == clock.start_of_day(date(2026, 9, 7), tz)


@pytest.mark.parametrize(
    ("zone", "utc_of_local_2359"),
    [
        ("America/Los_Angeles", datetime(2026, 5, 11, 6, 59, tzinfo=UTC)),  # west: next UTC day
        ("Asia/Tokyo", datetime(2026, 5, 10, 14, 59, tzinfo=UTC)),  # east: same UTC day
        ("Pacific/Kiritimati", datetime(2026, 5, 10, 9, 59, tzinfo=UTC)),  # UTC+14
        ("Pacific/Pago_Pago", datetime(2026, 5, 11, 10, 59, tzinfo=UTC)),  # UTC-11
    ],
)
def test_receipt_at_23_59_local_counts_that_local_day(
    zone: str, utc_of_local_2359: datetime
) -> None:
    tz = ZoneInfo(zone)
    received = _local(zone, 2026, 5, 10, 23, 59)
    assert received.astimezone(UTC) == utc_of_local_2359
    d = _due(CaseKind.ACCESS, utc_of_local_2359, zone)  # stored and passed as UTC
    assert clock.due_date(d.effective, tz) == date(2026, 6, 9)
    one_minute_later = _due(CaseKind.ACCESS, utc_of_local_2359 + timedelta(minutes=1), zone)
    assert clock.due_date(one_minute_later.effective, tz) == date(2026, 6, 10)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "UTC", "Pacific/Pago_Pago",
                                  "Europe/Berlin", "America/Santiago"])
def test_overdue_flips_exactly_at_local_midnight(zone: str) -> None:
    tz = ZoneInfo(zone)
    d = _due(CaseKind.DELETION, _local(zone, 2026, 3, 27, 8, 0), zone)
    last = d.effective - US
    assert not clock.is_overdue(d.effective, last)
    assert clock.days_left(d.effective, last, tz) == 0
    assert clock.is_overdue(d.effective, d.effective)
    assert clock.days_left(d.effective, d.effective, tz) == -1
    assert d.effective.astimezone(tz).time().hour in (0, 1)  # local midnight (01:00 if skipped)


def test_same_instant_is_a_different_day_east_and_west() -> None:
    instant = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    east = _due(CaseKind.ACCESS, instant, "Pacific/Kiritimati")  # 11 May 02:00 local
    west = _due(CaseKind.ACCESS, instant, "Pacific/Pago_Pago")  # 10 May 01:00 local
    assert clock.due_date(east.effective, ZoneInfo("Pacific/Kiritimati")) == date(2026, 6, 10)
    assert clock.due_date(west.effective, ZoneInfo("Pacific/Pago_Pago")) == date(2026, 6, 9)
    assert east.effective == datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
    assert west.effective == datetime(2026, 6, 10, 11, 0, tzinfo=UTC)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        clock.as_utc(datetime(2026, 5, 10, 12, 0))
