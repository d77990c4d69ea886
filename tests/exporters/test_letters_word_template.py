"""Outcome letters from a Word template a unit edits (issue 13, item 4), read back as their readers see them.

A referral's text, hostile in every free-text field the letter prints, is printed as written in Word and PDF and
never runs as a template; PDF and Word say the same; one merged PDF numbers each letter's pages from 1; files are
named by patient and date; a template missing what every letter must say, or not a .docx, is refused naming
what is wrong; a unit's template is chosen by `template=` or the settings file; the addresses are stored (both
backends).
"""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from pypdf import PdfReader

from tests.exporters.readback import docx_everything, squash
from tests.factories import AS_OF, referral
from triage_app.config import settings_letter_template, write_settings_letter_template
from triage_app.domain.letters import ADDRESS_NOT_ON_FILE, LETTER_MARKING, safe_file_part, unique_names
from triage_app.domain.meetings import CaseAction
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.rules import Rules
from triage_app.exporters.letter_template import read_word_template, render_docx
from triage_app.services import meetings
from triage_app.services.errors import ServiceError
from triage_app.services.exports import export_letters, merged_letters_name
from triage_app.services.referrals import get_referral, register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor
from triage_app.storage.engine import Database

MEETING_DAY = date(2026, 12, 3)
#: Text that would run, or break the XML, if a letter's values were ever read as a template or as markup.
HOSTILE = '{{7*7}} {% for x in y %}<w:p>&amp; & "q" \'s'


def hostile(label: str, limit: int = 100) -> str:
    return f"{label} {HOSTILE}"[:limit]


def _register(db: Database, admin: Actor, consultant: Actor, rules: Rules, serial: int, **changes: Any) -> int:
    saved = register_referral(db, actor=admin, referral=referral(serial, **changes), rules=rules, as_of=AS_OF)
    decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=saved.version)
    return saved.referral_id


def _meeting(db: Database, admin: Actor, consultant: Actor, ids: list[int], rationale: str = "Reasons given") -> int:
    meeting_id = meetings.create_meeting(
        db, actor=admin, meeting_date=MEETING_DAY, meeting_time="13:30", today=AS_OF
    ).meeting_id
    for referral_id in ids:
        meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=referral_id)
    for referral_id in ids:
        meetings.record_outcome(
            db,
            actor=consultant,
            meeting_id=meeting_id,
            referral_id=referral_id,
            outcome="decline",
            rationale=rationale,
            actions=[CaseAction(hostile("Action"), hostile("Owner"), None)],
            today=MEETING_DAY,
        )
    return meeting_id


@pytest.fixture
def hostile_letters(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> tuple[int, list[int]]:
    """A held meeting of three decided referrals, every free-text field the letter prints hostile."""
    ids = [
        _register(
            db,
            admin,
            consultant,
            rules,
            serial,
            patient__family_name=hostile(f"Fam{serial}"),
            patient__given_name=hostile(f"Giv{serial}"),
            patient__hospital_number=f"H{serial}{{{{7*7}}}}<&>"[:32],
            referrer__name=hostile(f"Dr Ref{serial}"),
            referrer__role="neurologist",
            referrer__address=hostile(f"Line1 ref{serial}", 300) + "\n" + hostile("Line2", 300),
            gp__name=hostile(f"Dr Gp{serial}"),
            gp__practice=hostile(f"Practice{serial}"),
            gp__address=hostile(f"Gp line{serial}", 300) + "\n" + hostile("Town", 300),
        )
        for serial in (61, 62, 63)
    ]
    return _meeting(db, admin, consultant, ids, rationale=hostile("Rationale", 4000)), ids


def _pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.hazard("H10", "H11")
@pytest.mark.parametrize("fmt", ["docx", "pdf"])
def test_a_referrals_text_is_printed_as_written_never_run_as_a_template(
    db: Database, coordinator: Actor, hostile_letters: tuple[int, list[int]], tmp_path: Path, fmt: str
) -> None:
    meeting_id, _ = hostile_letters
    written = export_letters(db, actor=coordinator, meeting_id=meeting_id, fmt=fmt, out_dir=tmp_path, today=MEETING_DAY)
    assert len(written) == 3
    for path in written:
        text = docx_everything(path) if fmt == "docx" else _pdftotext(path)
        serial = re.search(r"Fam(\d\d)", text, re.IGNORECASE)  # family names in capitals
        assert serial is not None, path.name
        n = serial.group(1)
        for label in (f"Fam{n}", f"Giv{n}", f"Dr Ref{n}", f"Line1 ref{n}", "Line2", f"Dr Gp{n}", f"Practice{n}"):
            assert squash(hostile(label)) in squash(text), (path.name, label)  # every character, literally
        for label in (f"Gp line{n}", "Town", "Rationale", "Action", "Owner"):
            assert squash(hostile(label)) in squash(text), (path.name, label)
        assert "49" not in re.sub(r"\d{3} \d{3} \d{4}", "", text)  # {{7*7}} never evaluated
        assert squash(f"H{n}{{{{7*7}}}}<&>") in squash(text)
        for other in {"61", "62", "63"} - {n}:  # nothing of another patient
            assert squash(f"Fam{other}") not in squash(text) and f"Dr Gp{other}" not in text, (path.name, other)
    if fmt == "docx":
        for path in written:  # Word's own reader opens every part
            Document(str(path))


@pytest.mark.hazard("H10")
def test_the_pdf_says_what_the_word_letter_says(
    db: Database, coordinator: Actor, hostile_letters: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_letters
    words = export_letters(
        db, actor=coordinator, meeting_id=meeting_id, fmt="docx", out_dir=tmp_path / "w", today=MEETING_DAY
    )
    pdfs = export_letters(
        db, actor=coordinator, meeting_id=meeting_id, fmt="pdf", out_dir=tmp_path / "p", today=MEETING_DAY
    )
    assert [p.stem for p in words] == [p.stem for p in pdfs]
    for word, pdf in zip(words, pdfs, strict=True):
        document = Document(str(word))
        printed = squash(_pdftotext(pdf))
        section = document.sections[0]
        parts = [p.text for p in document.paragraphs]
        parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        parts += [p.text for p in section.first_page_header.paragraphs]
        parts += [c.text for t in section.first_page_header.tables for r in t.rows for c in r.cells]
        parts += [p.text for p in section.first_page_footer.paragraphs if "Page" not in p.text]
        for text in parts:
            assert squash(text) in printed, (word.name, text)
        assert "page1of" in printed


@pytest.mark.hazard("H10")
def test_one_merged_pdf_numbers_each_letter_from_page_one_and_marks_every_page(
    db: Database, coordinator: Actor, hostile_letters: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, ids = hostile_letters
    written = export_letters(
        db, actor=coordinator, meeting_id=meeting_id, fmt="pdf", out_dir=tmp_path, today=MEETING_DAY, merged=True
    )
    merged = tmp_path / merged_letters_name(MEETING_DAY)
    assert written[-1] == merged and len(written) == 4
    pages = [page.extract_text() or "" for page in PdfReader(merged).pages]
    singles = [len(PdfReader(path).pages) for path in written[:-1]]
    assert len(pages) == sum(singles)
    nhs = {format_nhs_number(get_referral(db, referral_id=i).referral.patient.nhs_number) for i in ids}
    numbers = []
    for page in pages:
        assert LETTER_MARKING in page
        found = re.search(r"Page (\d+) of (\d+)", page)
        assert found is not None
        numbers.append((int(found.group(1)), int(found.group(2))))
        assert len({n for n in nhs if n in page}) == 1, "a page names one patient only"
    expected = [(page, total) for total in singles for page in range(1, total + 1)]
    assert numbers == expected  # restarting with each letter


def _template(tmp_path: Path, *paragraphs: str, name: str = "unit.docx") -> Path:
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    path = tmp_path / name
    document.save(str(path))
    return path


COMPLETE = (
    "Our own letterhead",
    "{{ today }}",
    "Dear {{ referrer_name }}, re {{ patient_name }} {{ nhs_number }} {{ date_of_birth }}",
    "{{ intended_use }}",
    "{{ signatory_name }}, {{ signatory_role }}",
)


@pytest.mark.hazard("H10", "H14")
def test_a_template_missing_what_a_letter_must_say_or_not_a_docx_is_refused_naming_it(
    db: Database, coordinator: Actor, hostile_letters: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_letters
    out = tmp_path / "out"

    def refused(template: Path, *expected: str) -> None:
        with pytest.raises(ServiceError) as raised:
            export_letters(
                db,
                actor=coordinator,
                meeting_id=meeting_id,
                fmt="docx",
                out_dir=out,
                today=MEETING_DAY,
                template=template,
            )
        for words in expected:
            assert words in str(raised.value), (words, str(raised.value))
        assert not out.exists()

    refused(
        _template(tmp_path, "{{ today }} {{ referrer_name }}"),
        "unit.docx",
        "leaves out what every letter must say",
        "{{ patient_name }}",
        "{{ nhs_number }}",
        "{{ date_of_birth }}",
        "{{ intended_use }}",
        "{{ signatory_name }}",
    )
    refused(_template(tmp_path, *COMPLETE, "{{ patient_nmae }}"), "does not fill: {{ patient_nmae }}")
    refused(_template(tmp_path, *COMPLETE, "{{ today"), "a placeholder is not written correctly")
    old_word = tmp_path / "letter.doc"
    old_word.write_bytes(b"\xd0\xcf\x11\xe0 an old Word file")
    refused(old_word, "letter.doc is not a Word (.docx) template", "save it as a Word Document (.docx)")
    fake = tmp_path / "fake.docx"
    fake.write_text("not a zip", encoding="utf-8")
    refused(fake, "fake.docx is not a Word (.docx) document")

    unit = _template(tmp_path, *COMPLETE)  # no {{ marking }}: the marking is added to its footer
    (letter, *_) = export_letters(
        db, actor=coordinator, meeting_id=meeting_id, fmt="docx", out_dir=out, today=MEETING_DAY, template=unit
    )
    document = Document(str(letter))
    assert document.paragraphs[0].text == "Our own letterhead"
    assert LETTER_MARKING in [p.text for p in document.sections[0].footer.paragraphs]


@pytest.mark.hazard("H10")
def test_the_settings_file_chooses_the_units_template(
    db: Database, coordinator: Actor, hostile_letters: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_letters
    data_dir = tmp_path / "desktop"
    data_dir.mkdir()
    unit = _template(tmp_path, *COMPLETE)
    write_settings_letter_template(data_dir, unit)
    assert settings_letter_template(data_dir) == unit
    (letter, *_) = export_letters(
        db, actor=coordinator, meeting_id=meeting_id, fmt="docx", out_dir=tmp_path / "a", today=MEETING_DAY,
        data_dir=data_dir,
    )  # fmt: skip
    assert Document(str(letter)).paragraphs[0].text == "Our own letterhead"
    write_settings_letter_template(data_dir, None)  # back to the shipped example
    assert settings_letter_template(data_dir) is None
    (letter, *_) = export_letters(
        db, actor=coordinator, meeting_id=meeting_id, fmt="docx", out_dir=tmp_path / "b", today=MEETING_DAY,
        data_dir=data_dir,
    )  # fmt: skip
    header = Document(str(letter)).sections[0].first_page_header  # the shipped letterhead
    assert "Specialist Neurosurgical Unit" in [c.text.split("\n")[0] for t in header.tables for c in t.rows[0].cells]


@pytest.mark.hazard("H10")
def test_no_address_still_prints_says_so_and_the_export_reports_it_and_a_gp_referrer_gets_no_copy(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules, tmp_path: Path
) -> None:
    ids = [
        _register(db, admin, consultant, rules, 71, patient__family_name="Quinnell", patient__given_name="Marguerite",
                  referrer__role="neurologist"),
        _register(db, admin, consultant, rules, 72, patient__family_name="Abara", patient__given_name="Tobenna",
                  referrer__role="gp", referrer__name="Dr Ada Okafor", referrer__address="1 Surgery Lane\nOkton"),
    ]  # fmt: skip
    meeting_id = _meeting(db, admin, consultant, ids)
    notes: list[str] = []
    written = export_letters(
        db, actor=coordinator, meeting_id=meeting_id, fmt="docx", out_dir=tmp_path, today=MEETING_DAY, notes=notes
    )
    by_name = {path.name.split(" ")[0]: docx_everything(path) for path in written}
    assert (
        ADDRESS_NOT_ON_FILE in by_name["QUINNELL"] and "The patient's GP (details not on file)" in by_name["QUINNELL"]
    )
    assert ADDRESS_NOT_ON_FILE not in by_name["ABARA"] and "cc:" not in by_name["ABARA"]
    assert "1 Surgery Lane\nOkton" in by_name["ABARA"]
    (note,) = notes
    assert note.startswith("1 of the letters lack an address") and "QUINNELL Marguerite" in note
    assert "the referrer's address and the GP's address" in note and "ABARA" not in note


@pytest.mark.hazard("H10")
def test_files_are_named_by_patient_and_date_safely_and_never_overwrite_each_other() -> None:
    assert safe_file_part('O\'Brien/Smith: "Jo" <x>|?*\x07 . ') == "O'Brien Smith Jo x"
    names = unique_names(["QUINNELL Marguerite 999 123 4567 MDT outcome 03-Dec-2026"] * 2 + ["quinnell x"], "docx")
    assert names == [
        "QUINNELL Marguerite 999 123 4567 MDT outcome 03-Dec-2026.docx",
        "QUINNELL Marguerite 999 123 4567 MDT outcome 03-Dec-2026 (2).docx",
        "quinnell x.docx",
    ]


def test_the_names_in_files_never_carry_characters_windows_refuses(
    db: Database, admin: Actor, coordinator: Actor, consultant: Actor, rules: Rules, tmp_path: Path
) -> None:
    ids = [_register(db, admin, consultant, rules, 81, patient__family_name='Con:*?"<>|/\\', patient__given_name="Nul")]
    written = export_letters(
        db, actor=coordinator, meeting_id=_meeting(db, admin, consultant, ids), fmt="docx", out_dir=tmp_path,
        today=MEETING_DAY,
    )  # fmt: skip
    (path,) = written
    assert not set(path.name) & set('<>:"/\\|?*') and path.name.startswith("CON Nul ")
    assert re.fullmatch(r"CON Nul \d{3} \d{3} \d{4} MDT outcome 03-Dec-2026\.docx", path.name)


def test_the_addresses_are_stored_and_read_back(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> None:
    referral_id = _register(
        db, admin, consultant, rules, 91, referrer__address="Neurology\nWestmere WM1 4QT", gp__name="Dr Gp",
        gp__practice="Fernbank Surgery", gp__address="12 Fernbank Lane\nWestmere",
    )  # fmt: skip
    stored = get_referral(db, referral_id=referral_id).referral
    assert stored.value("referrer.address") == "Neurology\nWestmere WM1 4QT"
    assert (stored.value("gp.name"), stored.value("gp.practice")) == ("Dr Gp", "Fernbank Surgery")
    assert stored.value("gp.address") == "12 Fernbank Lane\nWestmere"


def test_a_second_template_fills_from_its_own_context(tmp_path: Path) -> None:
    """What a request for information (helper E) calls: a template path and a context of its own."""
    template = read_word_template(_template(tmp_path, "Dear {{ who }},", "{{ missing }}").read_bytes(), "request.docx")
    filled = tmp_path / "request.docx"
    filled.write_bytes(render_docx(template, {"who": "Dr <A> & B", "missing": "Date of birth\nTWSTRS", "marking": "M"}))
    text = docx_everything(filled)
    assert "Dear Dr <A> & B," in text and "Date of birth\nTWSTRS" in text and "M" in text
