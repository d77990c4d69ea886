"""Pseudonymised agendas and outcome summaries hold (H11), and the rules line is in every format.

A meeting of three invented patients whose every free-text field and identifier is distinctive is exported in
every format, pseudonymised, and read back as its reader sees it (pdftotext and pypdf for PDF, python-docx and
the raw Word XML, the csv module, HTML as text and as markup). None of the patients' names, NHS numbers (any
grouping), dates of birth, hospital numbers, referrers, referrer organisations, clinical questions, drug names,
rationales or agreed actions may appear; each patient's initials and the last four digits of the NHS number do.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.exporters.corpus import MEETING_DAY
from tests.exporters.readback import docx_everything, pdf_pages, poppler_text, squash
from tests.exporters.test_safety_exports import visible_text
from tests.factories import AS_OF, referral
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.letters import Signatory, fill_letter, letter_fields
from triage_app.domain.meetings import FREE_TEXT_WITHHELD, PSEUDONYMISED, CaseAction
from triage_app.domain.rules import Rules
from triage_app.exporters.agenda import FORMATS, PSEUDONYMISED_CSV_COLUMNS, export_agenda
from triage_app.exporters.letters import LETTER_FORMATS, export_letter
from triage_app.services import meetings
from triage_app.services.exports import export_agenda_file, font_dir, make_agenda
from triage_app.services.meetings import agenda_inputs
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor
from triage_app.storage.engine import Database

RULES_LINE = "Triage by rules spd-2026.2 (SHA-256 4f1c2a9be0d7), approved by Ada Admin on 01-Oct-2026"


@dataclass(frozen=True)
class Patient:
    """An invented patient whose every identifying value and free text is distinctive enough to search for."""

    family: str
    given: str
    born: date
    hospital: str
    referrer: str
    organisation: str
    question: str
    drug: str
    rationale: str
    action: str
    action_owner: str


PATIENTS = (
    Patient(
        "Quillfeather",
        "Morwenna",
        date(1961, 3, 14),
        "K77321",
        "Dr Ada Testwell",
        "Y02736",
        "Ms Quillfeather hopes for surgery before her wedding in June.",
        "Baclofen via Testwell trial",
        "Morwenna prefers to wait until after the wedding.",
        "Phone her sister Ysolde about transport",
        "Hildebrand Clerk",
    ),
    Patient(
        "Abernethy-Vance",
        "Tobiah",
        date(1979, 11, 12),
        "RTX5510",
        "Dr Philippa Grimsdottir",
        "P81042",
        "Tobiah drives a bus for Stagecoach; can he return to work?",
        "Trihexyphenidyl compounded",
        "Occupational needs discussed with Mr Abernethy-Vance.",
        "Write to Grimsdottir surgery",
        "Marisol Officer",
    ),
    Patient(
        "Zephyrine",
        "Oluwaseun",
        date(1990, 7, 4),
        "ZZ40401",
        "Prof Eamon Loughcrew",
        "RQ3",
        "Oluwaseun's mother also had torticollis: genetic referral?",
        "Clonazepam from Loughcrew clinic",
        "Mother's history of torticollis noted; genetics first.",
        "Refer Oluwaseun to genetics",
        "Benedikta Planner",
    ),
)


def identifiers(patient: Patient, nhs: str) -> list[str]:
    """Everything that must not leave in a pseudonymised copy, as plain strings (compared squashed)."""
    born = patient.born
    return [
        patient.family,
        patient.given,
        patient.hospital,
        patient.referrer.split()[-1],  # the referrer's family name
        patient.referrer,
        patient.organisation,
        patient.question,
        *(word for word in patient.question.split() if len(word) >= 8),  # its longer words on their own
        patient.drug.split()[0],
        patient.rationale,
        patient.action,
        patient.action_owner,
        nhs,
        f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}",
        f"{nhs[:3]}-{nhs[3:6]}-{nhs[6:]}",
        nhs[:6],  # the part the pseudonym hides
        str(born.year),  # any date of birth format carries the year
        born.isoformat(),
        f"{born:%d-%b-%Y}",
        f"{born:%d/%m/%Y}",
        "T-001",  # the referrer's own reference
    ]


@pytest.fixture
def three_patients(
    db: Database, admin: Actor, consultant: Actor, surgeon: Actor, rules: Rules
) -> tuple[int, list[str]]:
    """A meeting on MEETING_DAY with the three patients listed, each with an outcome, rationale and action."""
    nhs_numbers, ids = [], []
    for serial, patient in enumerate(PATIENTS, start=11):
        source = referral(
            serial,
            patient__family_name=patient.family,
            patient__given_name=patient.given,
            patient__date_of_birth=patient.born.isoformat(),
            patient__hospital_number=patient.hospital,
            referrer__name=patient.referrer,
            referrer__organisation_ods=patient.organisation,
            clinical_question=patient.question,
            oral_medications=[{"drug": patient.drug, "outcome": "ineffective"}],
            diagnosis__onset="2015-04-09",
        )
        saved = register_referral(db, actor=admin, referral=source, rules=rules, as_of=AS_OF)
        decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=saved.version)
        ids.append(saved.referral_id)
        nhs_numbers.append(source.patient.nhs_number or "")
    meeting_id = meetings.create_meeting(
        db,
        actor=admin,
        meeting_date=MEETING_DAY,
        meeting_time="13:30",
        place="Seminar room 2",
        chair="Dr A Chair",
        attendees=[("Dr A Chair", "functional_neurosurgeon")],
        today=AS_OF,
    ).meeting_id
    for rid in ids:
        meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=rid)
    for rid, patient in zip(ids, PATIENTS, strict=True):
        meetings.record_outcome(
            db,
            actor=surgeon,
            meeting_id=meeting_id,
            referral_id=rid,
            outcome="decline",
            rationale=patient.rationale,
            today=MEETING_DAY,
            actions=[CaseAction(patient.action, patient.action_owner, date(2026, 12, 10))],
        )
    return meeting_id, nhs_numbers


def everything_in(path: Path, fmt: str) -> str:
    """The text a reader sees, plus the file's own markup and metadata where it has any."""
    seen = visible_text(path, fmt)
    if fmt == "pdf":
        metadata = PdfReader(path).metadata or {}
        return seen + "\n" + "\n".join(str(value) for value in metadata.values())
    if fmt == "docx":
        with zipfile.ZipFile(path) as archive:
            xml = "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist() if name.endswith(".xml"))
        return seen + "\n" + docx_everything(path) + "\n" + re.sub(r"<[^>]+>", "", xml)
    return seen + "\n" + path.read_text(encoding="utf-8-sig")


def without_separators(text: str) -> str:
    """Squashed, and without hyphens, dots and slashes: an NHS number or date split any way is found."""
    return re.sub(r"[-./]", "", squash(text))


@pytest.mark.hazard("H11")
@pytest.mark.parametrize("outcomes", [False, True], ids=["agenda", "outcome-summary"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pseudonymised_export_holds_no_identifier_or_free_text(
    db: Database,
    admin: Actor,
    rules: Rules,
    three_patients: tuple[int, list[str]],
    tmp_path: Path,
    fmt: str,
    outcomes: bool,
) -> None:
    meeting_id, nhs_numbers = three_patients
    out = export_agenda_file(
        db,
        actor=admin,
        meeting_id=meeting_id,
        fmt=fmt,
        out=tmp_path / f"p.{fmt}",
        pseudonymised=True,
        outcomes=outcomes,
        today=MEETING_DAY,
    )
    text = everything_in(out, fmt)
    flat, bare = squash(text), without_separators(text)
    for patient, nhs in zip(PATIENTS, nhs_numbers, strict=True):
        for secret in identifiers(patient, nhs):
            assert squash(secret) not in flat, secret
            assert without_separators(secret) not in bare, secret
        initials = f"{patient.given[0]}.{patient.family[0]}."
        assert squash(initials) in flat and squash(f"xxx xxx {nhs[-4:]}") in flat, patient.family
    assert squash(PSEUDONYMISED) in flat and squash(INTENDED_USE_LINE) in flat
    assert squash("40-49") in flat or squash("60-69") in flat  # age bands, not dates of birth
    if not outcomes or fmt == "csv":  # the received month; the summary's table has outcomes, not referrals
        assert squash("Aug-2026") in flat
    assert squash(FREE_TEXT_WITHHELD) in flat
    if outcomes:
        assert squash("Decline") in flat and squash("1 agreed") in flat
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        assert tuple(rows[0]) == PSEUDONYMISED_CSV_COLUMNS and len(rows) == 1 + 3
    if fmt == "pdf":
        assert poppler_text(out) is not None, "pdftotext is needed to read the PDF as its reader would"


@pytest.mark.hazard("H11")
def test_the_full_agenda_still_names_each_patient(
    db: Database, admin: Actor, rules: Rules, three_patients: tuple[int, list[str]], tmp_path: Path
) -> None:
    """Not a regression of the identifiable agenda: the MDT's own copy keeps the three identifiers."""
    meeting_id, nhs_numbers = three_patients
    for outcomes in (False, True):
        out = export_agenda_file(
            db,
            actor=admin,
            meeting_id=meeting_id,
            fmt="pdf",
            out=tmp_path / f"full-{outcomes}.pdf",
            outcomes=outcomes,
            today=MEETING_DAY,
        )
        flat = squash("\n".join(pdf_pages(out)))
        for patient, nhs in zip(PATIENTS, nhs_numbers, strict=True):
            shown = (patient.family, patient.given, f"{patient.born:%d-%b-%Y}", nhs)
            for value in shown if outcomes else (*shown, patient.question):
                assert squash(value) in flat, value


# --- the rules line ---------------------------------------------------------------------------------------------


@pytest.mark.hazard("H05")
@pytest.mark.parametrize("pseudonymised", [False, True], ids=["identifiable", "pseudonymised"])
@pytest.mark.parametrize("outcomes", [False, True], ids=["agenda", "outcome-summary"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_rules_line_is_in_every_agenda_format_by_the_intended_use(
    db: Database,
    rules: Rules,
    three_patients: tuple[int, list[str]],
    tmp_path: Path,
    fmt: str,
    outcomes: bool,
    pseudonymised: bool,
) -> None:
    agenda = make_agenda(
        db, meeting_id=three_patients[0], outcomes=outcomes, pseudonymised=pseudonymised, today=MEETING_DAY
    )
    out = tmp_path / f"r.{fmt}"
    out.write_bytes(export_agenda(replace(agenda, rules_line=RULES_LINE), fmt, font_dir=font_dir()))
    text = squash(visible_text(out, fmt))
    assert squash(RULES_LINE) in text
    if fmt == "csv":  # on every row, in the columns after the intended use
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        header = rows[0]
        assert header.index("Intended use") < header.index("Rules in force") < header.index("Generated")
        assert all(row[header.index("Rules in force")] == RULES_LINE for row in rows[1:]) and len(rows) == 4
    else:
        assert text.index(squash(INTENDED_USE_LINE)) < text.index(squash(RULES_LINE)) < text.index(squash("Generated"))
    plain = tmp_path / f"plain.{fmt}"
    plain.write_bytes(export_agenda(agenda, fmt, font_dir=font_dir()))
    assert squash("SHA-256") not in squash(visible_text(plain, fmt))  # nothing when none is given


@pytest.mark.hazard("H05")
@pytest.mark.parametrize("fmt", LETTER_FORMATS)
def test_the_rules_line_is_in_every_letter_format_by_the_intended_use(
    db: Database, three_patients: tuple[int, list[str]], tmp_path: Path, fmt: str
) -> None:
    from triage_app.config import resource_path

    info, cases = agenda_inputs(db, meeting_id=three_patients[0])
    template = resource_path("templates", "outcome_letter.txt").read_text(encoding="utf-8")
    fields = letter_fields(
        cases[0],
        info,
        unit_name="Unit X",
        signatory=Signatory("Mr T Quennell", "Functional neurosurgeon"),
        today=MEETING_DAY,
        rules_line=RULES_LINE,
    )
    out = tmp_path / f"letter.{fmt}"
    out.write_bytes(export_letter(fill_letter(template, fields, cases[0].referral_id), fmt, font_dir=font_dir()))
    text = squash(docx_everything(out) if fmt == "docx" else "\n".join(pdf_pages(out)))
    assert squash(RULES_LINE) in text
    assert text.index(squash(INTENDED_USE_LINE)) < text.index(squash(RULES_LINE))
