"""Values at their limits lay out in seconds (issue 10, finding 7: 10 MB names and clinical questions made the PDF
agenda and letters run past 240 s). A full meeting of eight cases, every name 100 characters, every clinical
question 4,000 (one of them a single unbroken word), exported by `triage-app agenda` and `triage-app letters`
as a coordinator runs them, timed, and read back with pdftotext."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.exporters.readback import _is_furniture
from tests.factories import AS_OF, referral
from tests.stored import app_db_url
from triage_app.domain.meetings import CaseAction
from triage_app.domain.referral import FREE_TEXT_LENGTH, LIMITS, NAME_LENGTH
from triage_app.services import meetings
from triage_app.services.app import local_today, open_session
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage

CASES = 8
SECONDS = 30  # "a few seconds" each, with room for a slow shared test machine (typically 2-4 s)


def _name(letter: str) -> str:
    return (letter + "x" * (NAME_LENGTH - 1)).capitalize()


def _question(serial: int) -> str:
    if serial == 1:
        return "Q" * FREE_TEXT_LENGTH  # no space to break at: the worst case for line breaking
    words = "Consider SPD: rotational torticollis with a lost response to toxin over many cycles. "
    return (words * (FREE_TEXT_LENGTH // len(words) + 1))[:FREE_TEXT_LENGTH]


def _flat(text: str) -> str:
    """pdftotext's text without the page furniture between pages and the spaces, hyphens and line breaks a long
    word is wrapped with."""
    lines = [line for line in text.splitlines() if not _is_furniture(line)]
    return re.sub(r"[\s\-‐]+", "", "\n".join(lines))


@pytest.mark.hazard("H17")
def test_agenda_and_letters_at_the_limits_render_in_seconds(tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    day = local_today()
    session = open_session(app_db_url(data), backup_dir=data / "backups", today=day)
    try:
        db, me, rules = session.db, session.actor, session.rules
        ids = []
        for serial in range(1, CASES + 1):
            letter = "abcdefghij"[serial]
            saved = register_referral(
                db,
                actor=me,
                referral=referral(
                    serial,
                    as_of=day,
                    received_on=day.isoformat(),
                    patient__family_name=_name(letter),
                    patient__given_name=_name(letter.upper()),
                    referrer__name="Dr " + "r" * (NAME_LENGTH - 3),
                    external_id="E" * LIMITS["external_id"],
                    patient__hospital_number="H" * LIMITS["patient.hospital_number"],
                    oral_medications=[{"drug": "d" * NAME_LENGTH, "outcome": "ineffective"}],
                    clinical_question=_question(serial),
                ),
                rules=rules,
                as_of=day,
            )
            decide_triage(db, actor=me, referral_id=saved.referral_id, expected_version=saved.version)
            ids.append(saved.referral_id)
        meeting_id = meetings.create_meeting(
            db,
            actor=me,
            meeting_date=day,
            meeting_time="13:30",
            place="P" * LIMITS["meeting.place"],
            chair="C" * NAME_LENGTH,
            attendees=[(f"{n}" + "A" * (NAME_LENGTH - 1), "movement_disorders_neurologist") for n in range(6)],
            today=AS_OF,
        ).meeting_id
        for referral_id in ids:
            meetings.add_case(db, actor=me, meeting_id=meeting_id, referral_id=referral_id)
        for referral_id in ids:
            meetings.record_outcome(
                db,
                actor=me,
                meeting_id=meeting_id,
                referral_id=referral_id,
                outcome="decline",
                rationale="R" * FREE_TEXT_LENGTH,
                today=day,
                actions=[CaseAction("W" * FREE_TEXT_LENGTH, "O" * NAME_LENGTH, None)],
            )
    finally:
        session.close()

    agenda = tmp_path / "out" / "agenda.pdf"
    agenda.parent.mkdir()
    letters = tmp_path / "out" / "letters"
    for argv, made in (
        (["agenda", str(meeting_id), "--format", "pdf", "--out", str(agenda)], [agenda]),
        (["letters", str(meeting_id), "--format", "pdf", "--out-dir", str(letters)], None),
    ):
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "triage_app", "--data-dir", str(data), *argv],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        took = time.monotonic() - started
        print(f"{argv[0]}: {took:.1f} s")
        assert done.returncode == 0, done.stderr
        assert took < SECONDS, f"{argv[0]} took {took:.1f} s"
        files = made or sorted(letters.glob("*.pdf"))
        assert len(files) == (1 if made else CASES)
        for path in files:
            text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
            flat = _flat(text)
            if made:  # the agenda: every case, each 100-character name and question in full
                for serial in range(1, CASES + 1):
                    assert _flat(_name("abcdefghij"[serial])) in flat
                assert "Q" * FREE_TEXT_LENGTH in flat  # unbroken, though a page break may fall inside it
                assert _flat(_question(2)) in flat
            else:  # a letter: the patient's name and the rationale in full
                assert "R" * FREE_TEXT_LENGTH in flat
                assert re.search("[A-J]x{99}", flat)
