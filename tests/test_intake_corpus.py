"""The labelled corpus (tests/letters, written independently of the classifier) held to the
goals of issue 11, measured exactly as ``python -m bench classify`` measures them: English
100 %, every language at least 95 %, reminders at least 95 % recognised and linked to the
request they chase, and no 30-day request given a later deadline."""

from __future__ import annotations

from bench.classify import GOALS, measure, text


def test_the_corpus_meets_the_goals() -> None:
    report = measure()
    shown = text(report)
    assert report.accuracy["en"] >= GOALS["en"], shown
    assert min(report.accuracy.values()) >= GOALS["language"], shown
    assert report.reminders["rate"] >= GOALS["reminders"], shown
    assert report.thirty_day_errors == [], shown
    assert report.reminders["false_reminders"] == [], shown
    assert all(report.goals_met.values()), shown
