"""Dates for tests that go through the CLI or the desktop, where the app takes today from the wall clock.

A meeting must not be planned before today (services.meetings.create_meeting), so a fixed date such as
2026-12-03 would start failing once that day has passed; these dates move with the local date instead.
"""

from datetime import date, timedelta

from triage_app.services.app import local_today


def meeting_day(days: int = 12) -> date:
    """A meeting date `days` after today (the local date where the tests run): always plannable."""
    return local_today() + timedelta(days=days)
