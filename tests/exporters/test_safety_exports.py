"""The safety rules on what leaves the app (safety.md): every agenda format and every letter says what the app
is for; the agenda shows each case's triage as it stands, a lapsed decision marked for reconfirmation;
letters only for recorded outcomes, never before the meeting, dated the day they are made and signed by the
consultant who recorded the outcome; and a user with no role exports nothing.

Every file is read back as its reader would see it: PDF with pypdf (and pdftotext where installed), Word
with python-docx, CSV with the csv module, HTML as text and through Qt's print-preview document.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from docx import Document

from tests.exporters.corpus import MEETING_DAY
from tests.exporters.readback import docx_everything, pdf_pages, poppler_text, squash
from tests.factories import AS_OF
from triage_app.domain.formats import format_date, format_name
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.letters import LETTER_MARKING, Signatory, fill_letter, letter_fields
from triage_app.domain.meetings import TRIAGE_CHANGED
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.rules import Rules
from triage_app.exporters.agenda import agenda_html
from triage_app.services import meetings
from triage_app.services.errors import PermissionDenied, ServiceError
from triage_app.services.exports import export_agenda_file, export_letters, make_agenda
from triage_app.services.meetings import agenda_inputs
from triage_app.services.referrals import get_referral, update_referral
from triage_app.services.users import Actor
from triage_app.storage.engine import Database

AGENDA_FORMATS = ("pdf", "docx", "csv", "html")
RECONFIRM = TRIAGE_CHANGED.upper()
NHS_3_3_4 = re.compile(r"\b\d{3} \d{3} \d{4}\b")
Meeting = tuple[int, list[int]]


def visible_text(path: Path, fmt: str) -> str:
    """What a reader of the file sees, as plain text."""
    if fmt == "pdf":
        text = "\n".join(pdf_pages(path))
        poppler = poppler_text(path)
        return text if poppler is None else text + "\n" + poppler
    if fmt == "docx":
        return docx_everything(path)
    if fmt == "csv":
        rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        return "\n".join(cell for row in rows for cell in row)
    page = path.read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "\n", page))


def export_events(db: Database) -> int:
    """How many exports the audit trail records (on either backend)."""
    with db.read() as session:
        return int(session.execute(sa.text("SELECT count(*) FROM audit_event WHERE action = 'export'")).scalar_one())


def lapse_decision(db: Database, admin: Actor, rules: Rules, referral_id: int) -> None:
    """Edit a listed referral so its computed triage changes: the consultant's decision lapses."""
    detail = get_referral(db, referral_id=referral_id)
    changed = dataclasses.replace(
        detail.referral, botulinum_toxin=dataclasses.replace(detail.referral.botulinum_toxin, response="good")
    )
    update_referral(
        db,
        actor=admin,
        referral_id=referral_id,
        expected_version=detail.row.version,
        referral=changed,
        rules=rules,
        as_of=AS_OF,
    )


# --- the agenda ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcomes", [False, True], ids=["agenda", "outcome-summary"])
@pytest.mark.parametrize("fmt", AGENDA_FORMATS)
@pytest.mark.hazard("H14")
def test_every_agenda_format_says_what_the_app_is_for(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: Meeting, tmp_path: Path, fmt: str, outcomes: bool
) -> None:
    out = export_agenda_file(
        db,
        actor=admin,
        meeting_id=hostile_meeting[0],
        fmt=fmt,
        out=tmp_path / f"a.{fmt}",
        outcomes=outcomes,
        today=MEETING_DAY,
    )
    assert squash(INTENDED_USE_LINE) in squash(visible_text(out, fmt))
    # the approved rules in force and their approver, read from the database when the document is made
    assert squash("Rules spd-2026.2 approved by Ada Admin on ") in squash(visible_text(out, fmt))
    if fmt == "pdf":
        pages = [squash(page) for page in pdf_pages(out)]
        assert len(pages) >= 1 and all(squash(INTENDED_USE_LINE) in page for page in pages)  # every page's footer
        first = pages[0]
        assert first.index(squash(INTENDED_USE_LINE)) < first.index(squash("03-Dec-2026 at 13:30"))  # by the title
    elif fmt == "docx":
        document = Document(str(out))
        title, statement = (p.text for p in document.paragraphs[1:3])
        assert title.startswith("MDT") and statement == INTENDED_USE_LINE  # right under the title
        assert INTENDED_USE_LINE in "\n".join(p.text for p in document.sections[0].footer.paragraphs)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        header = rows[0]  # row 1 is the header: no preamble, so it drops into a spreadsheet
        assert header[0] == "Case" and len(rows) == 1 + 3
        # the marking, the intended use and the rules on every row, beside the case they travel with
        for row in rows[1:]:
            assert row[header.index("Intended use")] == INTENDED_USE_LINE
            assert row[header.index("Marking")].startswith("CONFIDENTIAL")
    else:
        page = out.read_text(encoding="utf-8")
        assert f"</h1><p class='intended-use'>{html.escape(INTENDED_USE_LINE)}</p>" in page


@pytest.mark.hazard("H14")
def test_a_pseudonymised_agenda_says_it_too(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: Meeting, tmp_path: Path
) -> None:
    out = export_agenda_file(
        db,
        actor=admin,
        meeting_id=hostile_meeting[0],
        fmt="pdf",
        out=tmp_path / "p.pdf",
        pseudonymised=True,
    )
    assert all(squash(INTENDED_USE_LINE) in squash(page) for page in pdf_pages(out))


@pytest.mark.parametrize("fmt", AGENDA_FORMATS)
@pytest.mark.hazard("H16")
def test_each_case_shows_its_triage_and_a_lapsed_decision_says_reconfirm(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: Meeting, tmp_path: Path, fmt: str
) -> None:
    meeting_id, ids = hostile_meeting
    lapse_decision(db, admin, rules, ids[1])
    agenda = make_agenda(db, meeting_id=meeting_id)
    triage = {case.referral_id: case.triage for case in agenda.cases}
    assert triage[ids[1]].startswith(RECONFIRM + ": Not yet refractory")
    assert triage[ids[0]].startswith("Ready for MDT (confirmed)") and RECONFIRM not in triage[ids[2]]
    out = export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt=fmt, out=tmp_path / f"a.{fmt}")
    seen = squash(visible_text(out, fmt))
    for text in triage.values():
        assert squash(text) in seen, text
    assert seen.count(squash(RECONFIRM)) >= 1
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        header = rows.index(next(r for r in rows if r[:1] == ["Case"]))
        column = rows[header].index("Triage")
        assert [row[column].startswith(RECONFIRM) for row in rows[header + 1 :]] == [False, True, False]


@pytest.mark.hazard("H14", "H16")
def test_the_print_preview_shows_the_intended_use_and_a_lapsed_triage(
    qapp: Any, db: Database, admin: Actor, rules: Rules, hostile_meeting: Meeting
) -> None:
    from PySide6.QtGui import QTextDocument

    meeting_id, ids = hostile_meeting
    lapse_decision(db, admin, rules, ids[2])
    document = QTextDocument()
    document.setHtml(agenda_html(make_agenda(db, meeting_id=meeting_id)).decode("utf-8"))
    text = document.toPlainText()
    assert INTENDED_USE_LINE in text and RECONFIRM in text


# --- letters ------------------------------------------------------------------------------------------------------


def write_letters(db: Database, actor: Actor, meeting_id: int, out: Path, fmt: str = "docx", **kw: Any) -> list[Path]:
    out.mkdir(exist_ok=True)
    return export_letters(db, actor=actor, meeting_id=meeting_id, fmt=fmt, out_dir=out, **kw)


def letter_text(path: Path) -> str:
    return visible_text(path, path.suffix.lstrip("."))


@pytest.mark.hazard("H10")
def test_letters_only_for_recorded_outcomes(
    db: Database, coordinator: Actor, surgeon: Actor, hostile_meeting: Meeting, tmp_path: Path
) -> None:
    meeting_id, ids = hostile_meeting
    meetings.record_outcome(
        db,
        actor=surgeon,
        meeting_id=meeting_id,
        referral_id=ids[1],
        outcome="not_discussed",
        rationale="Ran out of time",
        today=MEETING_DAY,
    )  # ids[2] has no outcome at all
    written = write_letters(db, coordinator, meeting_id, tmp_path / "letters", today=MEETING_DAY)
    assert [p.name for p in written] == [letter_file_name(db, ids[0], "docx")]
    assert sorted(p.name for p in (tmp_path / "letters").iterdir()) == [written[0].name]


@pytest.mark.hazard("H10")
def test_no_letters_before_the_meeting_date(
    db: Database, coordinator: Actor, hostile_meeting: Meeting, tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    before = export_events(db)
    with pytest.raises(ServiceError, match=r"the meeting is on 03-Dec-2026: .*on or after that date"):
        write_letters(db, coordinator, meeting_id, tmp_path / "early", today=MEETING_DAY - timedelta(days=1))
    assert list((tmp_path / "early").iterdir()) == [] and export_events(db) == before
    assert len(write_letters(db, coordinator, meeting_id, tmp_path / "on-the-day", today=MEETING_DAY)) == 1


@pytest.mark.parametrize("fmt", ["docx", "pdf"])
@pytest.mark.hazard("H10")
def test_a_letter_is_dated_the_day_it_is_made_and_signed_by_the_recording_consultant(
    db: Database, coordinator: Actor, surgeon: Actor, hostile_meeting: Meeting, tmp_path: Path, fmt: str
) -> None:
    made = date(2027, 1, 15)
    (letter,) = write_letters(db, coordinator, hostile_meeting[0], tmp_path / "out", fmt, today=made)
    text = letter_text(letter)
    flat = squash(text)
    assert squash("15-Jan-2027") in flat and squash("meeting on 03-Dec-2026") in flat
    assert squash("Yours sincerely, Mr Tobias Quennell-Invented Functional neurosurgeon") in flat
    for not_the_signatory in (coordinator.display_name, coordinator.login, surgeon.login):
        assert squash(not_the_signatory) not in flat, not_the_signatory
    if fmt == "docx":
        paragraphs = [p.text for p in Document(str(letter)).paragraphs]
        assert signature(paragraphs) == ["Mr Tobias Quennell-Invented", "Functional neurosurgeon"]
        assert "15-Jan-2027" in paragraphs  # the date line of the shipped Word template


@pytest.mark.hazard("H10")
def test_a_consultant_with_no_mdt_role_signs_as_consultant_and_an_amendment_is_signed_by_its_author(
    db: Database, coordinator: Actor, consultant: Actor, rules: Rules, hostile_meeting: Meeting, tmp_path: Path
) -> None:
    meeting_id, ids = hostile_meeting
    listed = meetings.get_meeting(db, meeting_id=meeting_id, rules=rules).cases
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=meeting_id,
        referral_id=ids[0],
        outcome="more_information_needed",
        rationale="Need the toxin clinic letters",
        today=MEETING_DAY + timedelta(days=2),
        expected_version=next(c.version for c in listed if c.referral_id == ids[0]),
        amend_reason="Letters from the toxin clinic were missing",
    )
    (letter,) = write_letters(db, coordinator, meeting_id, tmp_path / "out", today=MEETING_DAY + timedelta(days=2))
    paragraphs = [p.text for p in Document(str(letter)).paragraphs]
    assert signature(paragraphs) == ["Dr Con Sultant", "Consultant"]
    assert squash("Outcome More information needed") in squash(docx_everything(letter))  # the outcome table


@pytest.mark.parametrize("fmt", ["docx", "pdf"])
@pytest.mark.hazard("H01", "H10", "H14")
def test_a_letter_names_the_patient_three_ways_says_what_the_app_is_for_and_is_marked_for_a_referrer(
    db: Database, consultant: Actor, hostile_meeting: Meeting, tmp_path: Path, fmt: str
) -> None:
    meeting_id, ids = hostile_meeting
    (letter,) = write_letters(db, consultant, meeting_id, tmp_path / "out", fmt, today=MEETING_DAY)
    _, cases = agenda_inputs(db, meeting_id=meeting_id)
    patient = next(c for c in cases if c.referral_id == ids[0]).referral.patient
    nhs = format_nhs_number(patient.nhs_number)
    assert NHS_3_3_4.fullmatch(nhs) and nhs.startswith("999 ")
    text = letter_text(letter)
    flat = squash(text)
    for identifier in (format_name(patient.family_name, patient.given_name), nhs, format_date(patient.date_of_birth)):
        assert squash(identifier) in flat, identifier
    assert nhs in text  # spaced 3-3-4 as written, not only once squashed
    assert squash(INTENDED_USE_LINE) in flat
    assert squash("Rules spd-2026.2 approved by Ada Admin on ") in flat  # the rules in force and who approved them
    assert "do not forward" not in text.casefold()
    if fmt == "docx":
        section = Document(str(letter)).sections[0]  # the marking in the footer of the first and later pages
        for footer in (section.first_page_footer, section.footer):
            assert LETTER_MARKING in [paragraph.text for paragraph in footer.paragraphs]
    else:
        assert all(LETTER_MARKING in page for page in pdf_pages(letter))


@pytest.mark.hazard("H10")
def test_a_unit_template_must_say_what_every_letter_says(
    db: Database, coordinator: Actor, hostile_meeting: Meeting, tmp_path: Path
) -> None:
    template = tmp_path / "ours.txt"
    template.write_text("Our letter\n\nOutcome for $patient_name: $outcome\n\n$signatory_name\n", encoding="utf-8")
    with pytest.raises(ServiceError, match=r"leaves out .*\$today, \$nhs_number, \$date_of_birth, \$intended_use, "):
        write_letters(db, coordinator, hostile_meeting[0], tmp_path / "out", template=template, today=MEETING_DAY)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.hazard("H10")
def test_placeholders_in_the_data_are_never_filled(db: Database, hostile_meeting: Meeting) -> None:
    info, cases = agenda_inputs(db, meeting_id=hostile_meeting[0])
    case = dataclasses.replace(cases[0], rationale="$signatory_name ${today} {{7*7}}")
    fields = letter_fields(
        case, info, unit_name="$unit_name", signatory=Signatory("Dr $nhs_number", "Consultant"), today=MEETING_DAY
    )
    template = "T\n\n$today $patient_name $nhs_number $date_of_birth\n\n$rationale\n\n$intended_use\n\n"
    template += "$unit_name\n\n$signatory_name\n\n$signatory_role\n"
    letter = fill_letter(template, fields, case.referral_id)
    assert letter.paragraphs[1:] == (
        "$signatory_name ${today} {{7*7}}",
        INTENDED_USE_LINE,
        "$unit_name",
        "Dr $nhs_number",
        "Consultant",
    )


# --- who may export -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["agenda", "outcomes", "letters"])
@pytest.mark.hazard("H11", "H15")
def test_a_user_with_no_role_exports_no_patient_data(
    db: Database, nobody: Actor, rules: Rules, hostile_meeting: Meeting, tmp_path: Path, what: str
) -> None:
    meeting_id, _ = hostile_meeting
    before = export_events(db)
    with pytest.raises(PermissionDenied, match="Norris Nobody has no active role"):
        if what == "letters":
            export_letters(db, actor=nobody, meeting_id=meeting_id, fmt="pdf", out_dir=tmp_path, today=MEETING_DAY)
        else:
            export_agenda_file(
                db,
                actor=nobody,
                meeting_id=meeting_id,
                fmt="pdf",
                out=tmp_path / "a.pdf",
                outcomes=what == "outcomes",
            )
    assert [p.name for p in tmp_path.iterdir() if p.name != "data"] == [] and export_events(db) == before


@pytest.mark.hazard("H15")
def test_letters_are_for_coordinators_and_consultants_agendas_for_coordinators(
    db: Database,
    admin_only: Actor,
    coordinator: Actor,
    surgeon: Actor,
    rules: Rules,
    hostile_meeting: Meeting,
    tmp_path: Path,
) -> None:
    meeting_id, _ = hostile_meeting
    with pytest.raises(PermissionDenied, match="needs the coordinator or consultant role"):
        write_letters(db, admin_only, meeting_id, tmp_path / "admin", today=MEETING_DAY)
    assert list((tmp_path / "admin").iterdir()) == []
    # An administrator who has no part in the patients' care exports no patient data (services/permissions.py).
    with pytest.raises(PermissionDenied, match="needs the coordinator role"):
        export_agenda_file(db, actor=admin_only, meeting_id=meeting_id, fmt="csv", out=tmp_path / "a.csv")
    assert not (tmp_path / "a.csv").exists()
    agenda = export_agenda_file(db, actor=coordinator, meeting_id=meeting_id, fmt="csv", out=tmp_path / "a.csv")
    assert agenda.exists()
    for writer in (coordinator, surgeon):
        (letter,) = write_letters(db, writer, meeting_id, tmp_path / writer.login, today=MEETING_DAY)
        assert signature([p.text for p in Document(str(letter)).paragraphs])[0] == "Mr Tobias Quennell-Invented"


def letter_file_name(db: Database, referral_id: int, fmt: str) -> str:
    """The file name of a referral's outcome letter of the meeting on MEETING_DAY: by patient and date."""
    from triage_app.domain.letters import safe_file_part
    from triage_app.services.referrals import get_referral

    patient = get_referral(db, referral_id=referral_id).referral.patient
    nhs = patient.nhs_number or ""
    name = safe_file_part(f"{(patient.family_name or '').upper()} {patient.given_name}")  # no / : " etc.
    return f"{name} {nhs[:3]} {nhs[3:6]} {nhs[6:]} MDT outcome 03-Dec-2026.{fmt}"


def signature(paragraphs: list[str]) -> list[str]:
    """The name and role under "Yours sincerely," in a letter's paragraphs."""
    start = paragraphs.index("Yours sincerely,") + 1
    return [text for text in paragraphs[start:] if text.strip()][:2]
