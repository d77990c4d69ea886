"""H10, a letter to the wrong referrer or carrying another patient's data: with several patients decided at one
meeting, each from a different referrer, every letter is addressed to its own patient's referrer, names its own
patient three ways, carries its own outcome and rationale, goes to its own referrer's address with a copy to its
own patient's GP (none when the referrer is the GP), and holds nothing of any other case. Letters are found by the
patient's NHS number in their file name (never an internal id).

Each letter is read back as its reader sees it (Word with python-docx, PDF with pypdf and pdftotext).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tests.exporters.readback import docx_everything, pdf_pages, poppler_text, squash
from tests.factories import AS_OF, referral
from triage_app.domain.formats import format_date, format_name
from triage_app.domain.meetings import MEETING_OUTCOME_LABELS
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.exports import export_letters
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor
from triage_app.storage.engine import Database

MEETING_DAY = date(2026, 12, 3)


@dataclass(frozen=True)
class Case:
    """One invented patient, their referrer and what the MDT decided."""

    serial: int
    family: str
    given: str
    born: str
    hospital_number: str
    referrer: str
    organisation: str
    outcome: str
    rationale: str
    role: str
    address: str
    gp: str
    practice: str
    gp_address: str


CASES = (
    Case(41, "Ashgrove", "Perpetua", "1961-03-14", "HA410001", "Dr Imogen Farrowdale", "RA1", "decline",
         "Dystonia now generalised: SPD would not help", "neurologist",
         "Neurology Department\nWestmere General Hospital\nWestmere WM1 4QT", "Dr Alaric Thistlewood",
         "Fernbank Surgery", "12 Fernbank Lane\nWestmere WM2 7RS"),
    Case(42, "Bellweather", "Cosmo", "1975-07-02", "HB420002", "Dr Kasimir Lowenbrook", "RB2",
         "refer_for_dbs_assessment", "Tremor dominant: DBS assessment first", "movement_disorders_neurologist",
         "Movement Disorders Clinic\nCaldervale Infirmary\nCaldervale CV3 9XY", "Dr Briony Quickthorn",
         "Orchard Row Practice", "4 Orchard Row\nCaldervale CV4 1AB"),
    Case(43, "Corriemoor", "Sidony", "1988-12-30", "HC430003", "Dr Ottilie Penhallow", "RC3",
         "continue_best_medical_treatment", "Toxin dose never optimised in clinic", "gp",
         "Penhallow Medical Centre\nMarshgate MG5 2LP", "Dr Ottilie Penhallow", "Penhallow Medical Centre",
         "Marshgate MG5 2LP"),
)  # fmt: skip


def identifiers(case: Case, nhs_number: str) -> list[str]:
    """Everything in a letter that belongs to this case alone."""
    born = date.fromisoformat(case.born)
    return [
        case.family,
        case.given,
        nhs_number,
        format_nhs_number(nhs_number) or nhs_number,
        format_date(born),
        case.born,
        case.hospital_number,
        case.referrer,
        case.rationale,
        *case.address.splitlines()[:1],
        *([] if case.role == "gp" else [case.gp, case.practice]),
    ]


def read(path: Path) -> str:
    """The letter as its reader sees it."""
    if path.suffix == ".docx":
        return docx_everything(path)
    text = "\n".join(pdf_pages(path))
    poppler = poppler_text(path)
    return text if poppler is None else text + "\n" + poppler


@pytest.fixture
def decided_meeting(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> tuple[int, dict[int, Case]]:
    """A meeting on MEETING_DAY with the three cases listed and each outcome recorded; (meeting, case by id)."""
    by_id: dict[int, Case] = {}
    for case in CASES:
        saved = register_referral(
            db,
            actor=admin,
            referral=referral(
                case.serial,
                patient__family_name=case.family,
                patient__given_name=case.given,
                patient__date_of_birth=case.born,
                patient__hospital_number=case.hospital_number,
                referrer__name=case.referrer,
                referrer__organisation_ods=case.organisation,
                referrer__role=case.role,
                referrer__address=case.address,
                gp__name=case.gp,
                gp__practice=case.practice,
                gp__address=case.gp_address,
            ),
            rules=rules,
            as_of=AS_OF,
        )
        decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=saved.version)
        by_id[saved.referral_id] = case
    meeting_id = meetings.create_meeting(
        db, actor=admin, meeting_date=MEETING_DAY, meeting_time="13:30", today=AS_OF
    ).meeting_id
    for referral_id in by_id:
        meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=referral_id)
    for referral_id, case in reversed(list(by_id.items())):  # recorded out of agenda order
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome=case.outcome,
            rationale=case.rationale,
            today=MEETING_DAY,
        )
    return meeting_id, by_id


@pytest.mark.hazard("H10")
@pytest.mark.parametrize("fmt", ["docx", "pdf"])
def test_each_letter_goes_to_its_own_referrer_and_carries_only_its_own_patient(
    db: Database,
    coordinator: Actor,
    decided_meeting: tuple[int, dict[int, Case]],
    tmp_path: Path,
    fmt: str,
) -> None:
    meeting_id, by_id = decided_meeting
    written = export_letters(db, actor=coordinator, meeting_id=meeting_id, fmt=fmt, out_dir=tmp_path, today=MEETING_DAY)
    assert len(written) == len(CASES)
    nhs_numbers = {rid: referral(case.serial).patient.nhs_number or "" for rid, case in by_id.items()}
    by_nhs = {format_nhs_number(nhs): rid for rid, nhs in nhs_numbers.items()}
    for path in written:
        found = re.search(r" (\d{3} \d{3} \d{4}) MDT outcome 03-Dec-2026\.", path.name)
        assert found is not None and "referral" not in path.name, path.name
        mine = by_nhs[found.group(1)]
        case = by_id[mine]
        assert path.name.startswith(f"{case.family.upper()} {case.given} "), path.name
        text = read(path)
        flat = squash(text)
        assert squash(f"Dear {case.referrer},") in flat, path.name  # addressed to this patient's referrer
        assert squash(f"{case.referrer}\n{case.address}") in flat, path.name  # at this referrer's address
        for own in (format_name(case.family, case.given), format_nhs_number(nhs_numbers[mine]) or "", case.rationale):
            assert squash(own) in flat, (path.name, own)
        assert squash(format_date(date.fromisoformat(case.born))) in flat
        assert squash(f"Outcome {MEETING_OUTCOME_LABELS[case.outcome]}") in flat
        if case.role == "gp":  # the referrer is the GP: no copy
            assert "cc:" not in text, path.name
        else:  # a copy to this patient's GP
            assert squash(f"cc: {case.gp}\n{case.practice}\n{case.gp_address}") in flat, path.name
        digits = re.sub(r"\D", "", text)
        for other_id, other in by_id.items():
            if other_id == mine:
                continue
            for foreign in identifiers(other, nhs_numbers[other_id]):
                assert squash(foreign) not in flat, (path.name, "carries", foreign)
            assert nhs_numbers[other_id] not in digits, (path.name, "carries another NHS number")
            assert squash(MEETING_OUTCOME_LABELS[other.outcome]) not in flat, (path.name, other.outcome)
