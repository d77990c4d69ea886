"""The outcome summary is made on or after the meeting's date, as the letters are (trial 11, finding 10); the
agenda is not held back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.exporters.corpus import MEETING_DAY
from triage_app.services.errors import ServiceError
from triage_app.services.exports import export_agenda_file, make_agenda
from triage_app.services.users import Actor
from triage_app.storage.engine import Database


def _exports(db: Database) -> int:
    with db.read() as session:
        return int(session.execute(sa.text("SELECT count(*) FROM audit_event WHERE action = 'export'")).scalar_one())


@pytest.mark.hazard("H13")
@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_no_outcome_summary_before_the_meeting_date(
    db: Database, admin: Actor, hostile_meeting: tuple[int, list[int]], tmp_path: Path, fmt: str
) -> None:
    meeting_id, _ = hostile_meeting
    before = _exports(db)
    day_before = MEETING_DAY - timedelta(days=5)
    with pytest.raises(ServiceError) as refused:
        export_agenda_file(
            db,
            actor=admin,
            meeting_id=meeting_id,
            fmt=fmt,
            out=tmp_path / f"outcomes.{fmt}",
            outcomes=True,
            today=day_before,
        )
    assert str(refused.value) == (
        "no outcome summary written: the meeting is on 03-Dec-2026: the outcome summary is made on or after that "
        "date, once the MDT has recorded its outcomes (today is 28-Nov-2026)"
    )
    assert not (tmp_path / f"outcomes.{fmt}").exists() and _exports(db) == before
    with pytest.raises(ServiceError, match="no outcome summary written: the meeting is on 03-Dec-2026"):
        make_agenda(db, meeting_id=meeting_id, outcomes=True, today=day_before)
    # The agenda goes out before the meeting; the summary is made on the day.
    agenda = export_agenda_file(
        db, actor=admin, meeting_id=meeting_id, fmt=fmt, out=tmp_path / f"agenda.{fmt}", today=day_before
    )
    summary = export_agenda_file(
        db,
        actor=admin,
        meeting_id=meeting_id,
        fmt=fmt,
        out=tmp_path / f"outcomes.{fmt}",
        outcomes=True,
        today=MEETING_DAY,
    )
    assert agenda.exists() and summary.exists() and _exports(db) == before + 2
