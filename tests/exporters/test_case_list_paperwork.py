"""The paperwork an MDT circulates (issue 13, item 3), read back as its readers would see it: the agenda opens with
one table of every case in the meeting's order, the right patient on the right row; the outcome summary is one
table of outcomes; the CSV has its header in row 1 and one row per case; human labels and DD-MMM-YYYY dates
everywhere.

PDF with pdftotext (poppler), Word with python-docx, CSV with the csv module.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from docx import Document
from pypdf import PdfReader

from tests.exporters.corpus import MEETING_DAY
from tests.exporters.readback import docx_everything, poppler_text, squash
from tests.factories import AS_OF, referral
from triage_app.domain.meetings import CaseAction
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.pseudonyms import FREE_TEXT_WITHHELD
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.rules import Rules
from triage_app.exporters.agenda import CSV_COLUMNS, case_list_columns, outcome_columns
from triage_app.services import meetings
from triage_app.services.exports import export_agenda_file, make_agenda
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor
from triage_app.storage.engine import Database

OVERRIDE_REASON = "Invented reason: the toxin response was overstated in the referral letter"
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # ready_for_mdt, sagittal_shift, movement_disorders_neurologist
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
FORMATS = ("pdf", "docx", "csv", "html")


@dataclass(frozen=True)
class Paperwork:
    meeting_id: int
    referral_ids: list[int]
    nhs_numbers: list[str]  # 3-3-4, in the meeting's order
    names: list[str]  # FAMILY, Given


PATIENTS: tuple[tuple[int, str, str, dict[str, Any]], ...] = (
    # serial, family, given, changes
    (51, "Ashdown", "Imogen", {"phenotype__components": ["sagittal_shift", "torticollis"]}),
    (52, "Brackley", "Tobias", {"botulinum_toxin__response": "good"}),  # computed: not yet refractory
    (53, "Cranmore", "Eleri", {"history__cervical_spine_disease": True}),
    (54, "Dunsford", "Rhys", {}),  # listed after the agenda went out
)


@pytest.fixture
def paperwork(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> Paperwork:
    """A meeting on MEETING_DAY with four cases: a Col-Cap sagittal shift with a month-only onset, a consultant's
    override with its reason, a cervical spine caution, a late addition; an attendee whose MDT role is "other";
    outcomes recorded by a consultant, with an action for two of them."""
    ids = []
    for serial, family, given, changes in PATIENTS:
        saved = register_referral(
            db,
            actor=admin,
            referral=referral(serial, patient__family_name=family, patient__given_name=given, **changes),
            rules=rules,
            as_of=AS_OF,
        )
        decide_triage(
            db,
            actor=consultant,
            referral_id=saved.referral_id,
            expected_version=saved.version,
            override_outcome="ready_for_mdt" if serial == 52 else None,
            reason=OVERRIDE_REASON if serial == 52 else None,
        )
        ids.append(saved.referral_id)
    meeting_id = meetings.create_meeting(
        db,
        actor=admin,
        meeting_date=MEETING_DAY,
        meeting_time="13:30",
        place="Seminar room 2",
        chair="Mr Chair Invented",
        attendees=[
            ("Mr Chair Invented", "functional_neurosurgeon"),
            ("Dr Nerys Invented", "movement_disorders_neurologist"),
            ("Pat Physio-Invented", "physiotherapist"),
            ("Dr Visiting Fellow", "other"),
        ],
        today=AS_OF,
    ).meeting_id
    for rid in ids[:3]:
        meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=rid)
    meetings.circulate(db, actor=admin, meeting_id=meeting_id)
    meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=ids[3])
    outcomes = ("decline", "more_information_needed", "continue_best_medical_treatment", "refer_for_dbs_assessment")
    for number, (rid, outcome) in enumerate(zip(ids, outcomes, strict=True)):
        actions = [CaseAction(f"Invented action {number + 1}", "Cora Ordinator", date(2026, 12, 17))]
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=meeting_id,
            referral_id=rid,
            outcome=outcome,
            rationale=f"Invented rationale {number + 1}",
            today=MEETING_DAY,
            actions=actions if number % 2 == 0 else [],
        )
    return Paperwork(
        meeting_id,
        ids,
        [format_nhs_number(make_test_nhs_number(serial)) for serial, *_ in PATIENTS],
        [f"{family.upper()}, {given}" for _, family, given, _ in PATIENTS],
    )


def export(
    db: Database,
    admin: Actor,
    paperwork: Paperwork,
    tmp_path: Path,
    fmt: str,
    *,
    outcomes: bool = False,
    pseudonymised: bool = False,
) -> Path:
    name = f"doc-{outcomes}-{pseudonymised}.{fmt}"
    return export_agenda_file(
        db,
        actor=admin,
        meeting_id=paperwork.meeting_id,
        fmt=fmt,
        out=tmp_path / name,
        today=MEETING_DAY,
        outcomes=outcomes,
        pseudonymised=pseudonymised,
    )


def seen(path: Path, fmt: str) -> str:
    """What a reader sees: pdftotext of the PDF, every paragraph and cell of the Word file, the CSV's cells, the
    HTML's text."""
    if fmt == "pdf":
        text = poppler_text(path)
        assert text is not None, "pdftotext is needed to read the PDF as its reader would"
        return text
    if fmt == "docx":
        return docx_everything(path)
    if fmt == "csv":
        return "\n".join(c for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))) for c in row)
    return re.sub(r"<[^>]+>", "\n", path.read_text(encoding="utf-8"))


def first_page_layout(path: Path) -> str:
    """pdftotext -layout of the first page: a table's rows stay on their lines."""
    return subprocess.run(
        ["pdftotext", "-layout", "-f", "1", "-l", "1", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


# --- the agenda ----------------------------------------------------------------------------------------------------


@pytest.mark.hazard("H01", "H08")
def test_the_agenda_pdf_opens_with_every_case_in_order_on_its_own_row(
    db: Database, admin: Actor, paperwork: Paperwork, tmp_path: Path
) -> None:
    out = export(db, admin, paperwork, tmp_path, "pdf")
    page = first_page_layout(out)
    assert "Cases (4)" in page and "Case 1:" not in page  # the table first, the cases in full after it
    rows = [line for line in page.splitlines() if any(nhs in line for nhs in paperwork.nhs_numbers)]
    assert len(rows) == 4
    for row, number, nhs, name in zip(rows, "1234", paperwork.nhs_numbers, paperwork.names, strict=True):
        # the order, the name, the NHS number and the hospital number of one patient on one line
        assert row.split()[0] == number and name in row and nhs in row and "K0043921" in row, row
    assert "LATE" in page and "LATE: listed after the agenda was circulated on" in page
    text = poppler_text(out) or ""
    sections = [text.index(f"Case {n}: {name}") for n, name in enumerate(paperwork.names, start=1)]
    assert sections == sorted(sections) and "Case 4: DUNSFORD, Rhys (LATE ADDITION)" in text
    reader = PdfReader(out)
    assert reader.pages[0].mediabox.width > reader.pages[0].mediabox.height  # the table on a landscape page
    assert reader.pages[-1].mediabox.width < reader.pages[-1].mediabox.height  # each case in full: portrait


@pytest.mark.hazard("H01", "H06")
def test_the_word_agenda_s_first_table_is_the_case_list_with_cautions_in_words(
    db: Database, admin: Actor, paperwork: Paperwork, tmp_path: Path
) -> None:
    out = export(db, admin, paperwork, tmp_path, "docx")
    document = Document(str(out))
    table = document.tables[0]
    agenda = make_agenda(db, meeting_id=paperwork.meeting_id)
    columns = case_list_columns(agenda)
    assert tuple(c.text for c in table.rows[0].cells) == columns
    assert "w:tblHeader" in table.rows[0]._tr.xml  # repeated at the top of every page
    body = [{column: cell.text for column, cell in zip(columns, row.cells, strict=True)} for row in table.rows[1:]]
    assert [row["NHS number"] for row in body] == paperwork.nhs_numbers
    assert [row["Name"].split("\n")[0] for row in body] == paperwork.names
    assert [row["No."] for row in body] == ["1", "2", "3", "4\nLATE"]
    assert all(row["Hospital number"] == "K0043921" and row["Age"] == "47" for row in body)
    assert [row["Priority"] for row in body] == [str(c.priority) for c in agenda.cases]
    # H06: every caution in words on its patient's row, never the queue's tags (tremor, c-spine, RTT risk)
    assert body[0]["Cautions"].split("\n") == ["Head tremor", "18-week wait at risk"]
    assert body[2]["Cautions"].split("\n") == ["Cervical spine disease", "Head tremor", "18-week wait at risk"]
    for tag in ("c-spine", "tremor: Head", "RTT risk", "immuno?"):
        assert tag not in docx_everything(out)
    assert document.sections[0].orientation == 1 and document.sections[1].orientation == 0  # landscape, portrait


@pytest.mark.hazard("H01", "H11")
def test_the_csv_has_its_header_in_row_one_and_one_row_per_case(
    db: Database, admin: Actor, paperwork: Paperwork, tmp_path: Path
) -> None:
    out = export(db, admin, paperwork, tmp_path, "csv")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 1 + 4
    cases = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [c["Case"] for c in cases] == ["1", "2", "3", "4"]
    assert [c["NHS number"] for c in cases] == paperwork.nhs_numbers
    assert [c["Name"] for c in cases] == paperwork.names
    assert [c["Late addition"] for c in cases] == ["no", "no", "no", "yes"]
    assert all(c["Date of birth"] == "12-Nov-1979" and c["Meeting date"] == "03-Dec-2026" for c in cases)
    assert all(c["Weeks waiting"].isdigit() and c["Priority"].isdigit() for c in cases)  # numbers a sheet sums
    assert cases[1]["Consultant's decision"].startswith("Overridden by Dr Con Sultant on ")
    assert (
        OVERRIDE_REASON in cases[1]["Consultant's decision"]
        and "not yet refractory" in cases[1]["Consultant's decision"]
    )
    assert cases[0]["Consultant's decision"].startswith("Confirmed by Dr Con Sultant on ")
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]


@pytest.mark.parametrize("outcomes", [False, True], ids=["agenda", "outcome-summary"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.hazard("H13")
def test_human_labels_and_dates_everywhere(
    db: Database, admin: Actor, paperwork: Paperwork, tmp_path: Path, fmt: str, outcomes: bool
) -> None:
    text = seen(export(db, admin, paperwork, tmp_path, fmt, outcomes=outcomes), fmt)
    assert CODE.findall(text) == [] and ISO_DATE.findall(text) == []
    assert "03-Dec-2026" in text
    if not outcomes or fmt == "csv":
        assert "Dr Visiting Fellow (Other)" in text or fmt == "csv"  # role "other" in words
        assert "sagittal shift" in text and "onset Apr-2015" in text  # Col-Cap in words; a month-only onset
        assert "Overridden by Dr Con Sultant on " in text  # the consultant's decision, by whom
    if outcomes:
        flat = squash(text)  # a table cell wraps anywhere
        assert squash("More information needed") in flat
        assert squash("Invented action 1 (owner: Cora Ordinator, due 17-Dec-2026)") in flat


# --- the outcome summary -------------------------------------------------------------------------------------------


@pytest.mark.hazard("H09")
def test_the_outcome_summary_is_one_table_each_outcome_on_its_patient_s_row(
    db: Database, admin: Actor, paperwork: Paperwork, tmp_path: Path
) -> None:
    out = export(db, admin, paperwork, tmp_path, "docx", outcomes=True)
    document = Document(str(out))
    assert len(document.tables) == 1  # one table of outcomes, not a page per case
    agenda = make_agenda(db, meeting_id=paperwork.meeting_id, outcomes=True, today=MEETING_DAY)
    columns = outcome_columns(agenda)
    table = document.tables[0]
    assert tuple(c.text for c in table.rows[0].cells) == columns
    body = [{column: cell.text for column, cell in zip(columns, row.cells, strict=True)} for row in table.rows[1:]]
    assert [row["NHS number"] for row in body] == paperwork.nhs_numbers
    assert [row["Patient"].split("\n")[0] for row in body] == paperwork.names
    assert [row["Outcome"] for row in body] == [
        "Decline",
        "More information needed",
        "Continue best medical treatment",
        "Refer for DBS assessment",
    ]
    assert [row["Rationale"] for row in body] == [f"Invented rationale {n}" for n in range(1, 5)]
    assert body[0]["Actions (owner, due)"] == "Invented action 1 (owner: Cora Ordinator, due 17-Dec-2026)"
    assert body[1]["Actions (owner, due)"] == "none"
    assert all(row["Recorded by"].startswith("Dr Con Sultant, ") for row in body)
    pdf = export(db, admin, paperwork, tmp_path, "pdf", outcomes=True)
    assert len(PdfReader(pdf).pages) == 1  # four outcomes on one page
    page = first_page_layout(pdf)
    rows = [line for line in page.splitlines() if any(nhs in line for nhs in paperwork.nhs_numbers)]
    for row, nhs, name, outcome in zip(
        rows,
        paperwork.nhs_numbers,
        paperwork.names,
        ("Decline", "More information", "Continue best", "Refer for DBS"),
        strict=True,
    ):
        assert nhs in row and name in row and outcome in row, row


@pytest.mark.hazard("H11")
def test_the_pseudonymised_copy_withholds_the_override_reason(
    db: Database, admin: Actor, paperwork: Paperwork, tmp_path: Path
) -> None:
    agenda = make_agenda(db, meeting_id=paperwork.meeting_id, pseudonymised=True)
    decision = agenda.cases[1].decision
    assert decision.startswith("Overridden by Dr Con Sultant") and FREE_TEXT_WITHHELD in decision
    assert OVERRIDE_REASON not in decision
    out = export(db, admin, paperwork, tmp_path, "pdf", pseudonymised=True)
    text = poppler_text(out) or ""
    assert "Invented reason" not in text and "ASHDOWN" not in text and "I.A." in text


def test_attendance_on_the_day_is_in_the_outcome_summary(
    db: Database, admin: Actor, paperwork: Paperwork, tmp_path: Path
) -> None:
    """Who attended (schema 0008): once attendance is taken the summary lists those there and those not, and the
    quorum is of those who attended."""
    with db.read() as session:
        columns = {c["name"] for c in sa.inspect(session.connection()).get_columns("meeting_attendee")}
    if "attended" not in columns:
        pytest.skip("attendance (schema 0008) is not in this database yet")
    with db.write() as session:
        session.execute(
            sa.text("UPDATE meeting_attendee SET attended = (mdt_role <> 'physiotherapist') WHERE meeting_id = :m"),
            {"m": paperwork.meeting_id},
        )
    agenda = make_agenda(db, meeting_id=paperwork.meeting_id, outcomes=True, today=MEETING_DAY)
    assert agenda.attendance == (
        "Mr Chair Invented (Functional neurosurgeon)",
        "Dr Nerys Invented (Movement disorders neurologist)",
        "Dr Visiting Fellow (Other)",
    )
    assert agenda.absent == ("Pat Physio-Invented (Physiotherapist)",)
    assert agenda.quorum.startswith("Not quorate: no physiotherapist") and not agenda.quorate
    text = seen(export(db, admin, paperwork, tmp_path, "pdf", outcomes=True), "pdf")
    assert "Attended" in text and "Not present" in text and "Pat Physio-Invented (Physiotherapist)" in text


@pytest.mark.hazard("H01")
def test_each_case_section_in_word_is_its_own_patient_kept_on_one_page(
    db: Database, admin: Actor, paperwork: Paperwork, tmp_path: Path
) -> None:
    """The per-case tables (built row by row from one copied row) carry their own patient's text, line breaks as
    Word breaks, and every paragraph kept with the next so a case is not split across pages where it fits."""
    out = export(db, admin, paperwork, tmp_path, "docx")
    document = Document(str(out))
    agenda = make_agenda(db, meeting_id=paperwork.meeting_id)
    case_tables = document.tables[1:]
    assert len(case_tables) == len(agenda.cases)
    for table, case in zip(case_tables, agenda.cases, strict=True):
        text = "\n".join(cell.text for row in table.rows for cell in row.cells)
        assert case.nhs_number in text and all(
            other.nhs_number not in text for other in agenda.cases if other is not case
        )
        for row in table.rows:
            for cell in row.cells:
                assert cell.paragraphs[0].paragraph_format.keep_with_next is True
                assert cell.paragraphs[0].paragraph_format.keep_together is True
    assert any("\n" in cell.text for table in case_tables for row in table.rows for cell in row.cells)
