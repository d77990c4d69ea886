"""H13, date and time-zone errors: the day the app works to is the local date where it runs (not UTC's), times
are stored as the instant in UTC and a time without a zone is refused, and a document says when it was made in
local time, naming the zone.

The process's time zone is changed for a moment with POSIX TZ strings (they need no time-zone database): one zone
14 hours ahead of UTC and one 11 hours behind, so that at any moment at least one of them is on another date
than UTC.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from triage_app.domain.meetings import MeetingInfo, build_agenda
from triage_app.services.app import local_today
from triage_app.storage.models import UTCDateTime

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="time.tzset and POSIX TZ strings")
ZONES = {"XST-14": 14, "YST11": -11}  # POSIX: the offset's sign is reversed (XST-14 is UTC+14)


@contextmanager
def local_zone(tz: str) -> Iterator[None]:
    """The process runs in `tz` for the block."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@posix_only
@pytest.mark.hazard("H13")
def test_today_is_the_local_date_where_the_app_runs_not_utcs() -> None:
    local_dates = []
    for tz, hours in ZONES.items():
        zone = timezone(timedelta(hours=hours))
        with local_zone(tz):
            before = datetime.now(zone).date()
            today = local_today()
            after = datetime.now(zone).date()
        assert today in (before, after), tz  # (either side of midnight, if the test runs across it)
        local_dates.append(today)
    # the two zones are 25 hours apart: one of them is always on another date than UTC, so a UTC date fails here
    assert any(day != datetime.now(UTC).date() for day in local_dates)


@pytest.mark.hazard("H13")
def test_times_are_stored_as_the_instant_in_utc_and_a_time_without_a_zone_is_refused() -> None:
    engine = sa.create_engine("sqlite://")
    metadata = sa.MetaData()
    events = sa.Table("events", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime))
    metadata.create_all(engine)
    evening_in_new_york = datetime(2026, 12, 3, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    with engine.begin() as connection:
        connection.execute(events.insert().values(id=1, at=evening_in_new_york))
        with pytest.raises(sa.exc.StatementError, match="naive datetime: store aware UTC times only"):
            connection.execute(events.insert().values(id=2, at=datetime(2026, 12, 3, 23, 30)))
    with engine.connect() as connection:
        stored = connection.execute(sa.select(events.c.at)).scalar_one()
        raw = connection.execute(sa.text("SELECT at FROM events")).scalar_one()
    assert stored == evening_in_new_york and stored.tzinfo is UTC
    assert stored == datetime(2026, 12, 4, 4, 30, tzinfo=UTC) and str(raw).startswith("2026-12-04 04:30")
    engine.dispose()


@posix_only
@pytest.mark.hazard("H13")
def test_a_document_says_when_it_was_made_in_local_time_naming_the_zone() -> None:
    meeting = MeetingInfo(1, date(2026, 12, 4), "13:30", None, None, None, (), "planned", None)
    made = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)  # 11:00 UTC on the 3rd is 01:00 on the 4th at UTC+14
    with local_zone("XST-14"):
        agenda = build_agenda(meeting, [], quorum_roles=(), generated_at=made)
    assert agenda.generated == "04-Dec-2026 01:00 XST"
    with local_zone("YST11"):
        agenda = build_agenda(meeting, [], quorum_roles=(), generated_at=made)
    assert agenda.generated == "03-Dec-2026 00:00 YST"
