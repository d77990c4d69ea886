"""Every export read back: PDF text (pypdf and pdftotext), Word (python-docx), CSV (csv module), HTML.

A corpus of hostile values goes into every exported field and must come out as the literal text: CSV cells
neutralised against formula injection, Word valid, PDF and HTML showing the text and fetching nothing.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

from tests.factories import AS_OF, referral
from triage_app.domain.meetings import CaseAction
from triage_app.domain.rules import Rules
from triage_app.services import meetings
from triage_app.services.errors import ServiceError
from triage_app.services.exports import export_agenda_file, export_letters, make_agenda, write_atomically
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import Actor
from triage_app.storage.engine import Database

LONG = "Long clinical question with many words. " * 80  # 3,200 characters
HOSTILE = {
    "formula": '=HYPERLINK("http://example.invalid","click")',
    "plus": "+SUM(A1:A9)",
    "minus": "-2+3",
    "at": "@cmd",
    "bold": "<b>not bold</b>",
    "wordxml": "</w:t><w:t>injected",
    "img": "<img src='http://example.invalid/x.png'>",
    "template": "{{7*7}}",
    "greek": "Ηλέκτρα Παπαδοπούλου",
    "cyrillic": "Светлана Иванова",
    "quote": 'O\'Brien & "Sons"',
}


@pytest.fixture
def hostile_meeting(db: Database, admin: Actor, consultant: Actor, rules: Rules) -> tuple[int, list[int]]:
    """A meeting whose cases carry every hostile value in names, question, drug, referrer and decisions."""
    ids = []
    plans = [
        dict(
            patient__family_name=HOSTILE["formula"],
            patient__given_name=HOSTILE["greek"],
            clinical_question=HOSTILE["img"] + " " + HOSTILE["template"],
            referrer__name=HOSTILE["plus"],
            oral_medications=[{"drug": HOSTILE["wordxml"], "outcome": "ineffective"}],
        ),
        dict(
            patient__family_name=HOSTILE["cyrillic"],
            patient__given_name=HOSTILE["at"],
            clinical_question=LONG,
            referrer__name=HOSTILE["quote"],
            patient__hospital_number=HOSTILE["minus"],
        ),
        dict(
            patient__family_name=HOSTILE["bold"], patient__given_name="Ann\x07bell", clinical_question=HOSTILE["minus"]
        ),
    ]
    for serial, changes in enumerate(plans, start=1):
        saved = register_referral(db, actor=admin, referral=referral(serial, **changes), rules=rules, as_of=AS_OF)
        decide_triage(db, actor=consultant, referral_id=saved.referral_id, expected_version=1)
        ids.append(saved.referral_id)
    meeting_id = meetings.create_meeting(
        db,
        actor=admin,
        meeting_date=date(2026, 12, 3),
        meeting_time="13:30",
        place=HOSTILE["template"],
        chair=HOSTILE["formula"],
        attendees=[(HOSTILE["cyrillic"], "functional_neurosurgeon")],
    )
    for rid in ids:
        meetings.add_case(db, actor=admin, meeting_id=meeting_id, referral_id=rid)
    meetings.record_outcome(
        db,
        actor=consultant,
        meeting_id=meeting_id,
        referral_id=ids[0],
        outcome="decline",
        rationale=HOSTILE["formula"] + " " + HOSTILE["bold"],
        actions=[CaseAction(HOSTILE["at"] + " write to GP", HOSTILE["greek"], date(2026, 12, 10))],
    )
    return meeting_id, ids


def pdf_text_of(path: Path) -> str:
    """The text of every page, without the page furniture (marking and page number) between pages."""
    furniture = re.compile(r"^(CONFIDENTIAL: .*|Pseudonymised: .*|Page \d+ of \d+)$")
    lines = [
        line
        for page in PdfReader(path).pages
        for line in (page.extract_text() or "").splitlines()
        if not furniture.match(line.strip())
    ]
    return "\n".join(lines)


def docx_text(path: Path) -> str:
    return "\n".join(p.text for p in Document(str(path)).paragraphs)


def squash(text: str) -> str:
    """Without white space (PDF lines wrap anywhere) and case-folded (family names are shown in capitals)."""
    return re.sub(r"\s+", "", text).casefold()


@pytest.mark.parametrize("outcomes", [False, True], ids=["agenda", "outcome-summary"])
def test_pdf_shows_hostile_text_literally_and_fetches_nothing(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path, outcomes: bool
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(
        db, actor=admin, meeting_id=meeting_id, fmt="pdf", out=tmp_path / "a.pdf", rules=rules, outcomes=outcomes
    )
    reader = PdfReader(out)
    text = squash(pdf_text_of(out))
    assert "\x00" not in text and "annbell" in text  # a control character is dropped, not drawn as a box
    for value in HOSTILE.values():
        assert squash(value) in text, value
    assert squash(LONG) in text  # long text whole, across pages if need be
    everything = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert "CONFIDENTIAL: patient-identifiable data" in everything and "Page 1 of" in everything
    raw = out.read_bytes()
    for forbidden in (b"/URI", b"/Launch", b"/JavaScript", b"/JS", b"/Subtype /Image", b"/Subtype/Image"):
        assert forbidden not in raw
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4
    if outcomes:
        assert "outcomedecline" in text and squash("write to GP") in text
    if shutil.which("pdftotext"):
        poppler = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
        assert squash(HOSTILE["cyrillic"]) in squash(poppler) and squash(HOSTILE["img"]) in squash(poppler)


def test_word_document_is_valid_and_literal(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt="docx", out=tmp_path / "a.docx", rules=rules)
    document = Document(str(out))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            texts.extend(cell.text for cell in row.cells)
    everything = "\n".join(texts).casefold()
    for value in HOSTILE.values():
        assert value.casefold() in everything, value
    assert LONG.strip().casefold() in everything
    assert "annbell" in everything  # the control character that XML forbids is dropped, the rest kept
    assert "CONFIDENTIAL" in document.sections[0].header.paragraphs[0].text
    assert "PAGE" in document.sections[0].footer._element.xml
    assert round(document.sections[0].page_width.mm) == 210


def test_csv_cells_are_neutralised(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt="csv", out=tmp_path / "a.csv", rules=rules)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert rows[0][0].startswith("CONFIDENTIAL")
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    folded = [c.casefold() for c in cells]
    for key in ("formula", "plus", "minus", "at"):
        assert any(c.startswith("'" + HOSTILE[key].casefold()) for c in folded), key
    for key in ("bold", "img", "template", "greek", "cyrillic", "quote", "wordxml"):
        assert any(HOSTILE[key].casefold() in c for c in folded), key
    header = rows.index(next(r for r in rows if r[:1] == ["Case"]))
    assert len(rows) - header - 1 == 3  # one row per case


def test_html_escapes_everything(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt="html", out=tmp_path / "a.html", rules=rules)
    html = out.read_text(encoding="utf-8")
    assert "<img" not in html and "<b>not" not in html
    assert "&lt;img src=&#x27;http://example.invalid/x.png&#x27;&gt;" in html
    assert "{{7*7}}" in html and HOSTILE["cyrillic"].upper() in html and "\x07" not in html
    assert "default-src 'none'" in html


def test_pseudonymised_agenda_carries_no_names(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(
        db, actor=admin, meeting_id=meeting_id, fmt="csv", out=tmp_path / "p.csv", rules=rules, pseudonymised=True
    )
    text = out.read_text(encoding="utf-8-sig")
    assert HOSTILE["cyrillic"].upper() not in text and "999 000" not in text and "xxx xxx " in text
    assert "Pseudonymised" in text


def test_agenda_header_and_case_sections(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]]
) -> None:
    meeting_id, ids = hostile_meeting
    agenda = make_agenda(db, meeting_id=meeting_id, rules=rules)
    assert agenda.quorum == "Not quorate: no movement disorders neurologist, no physiotherapist"
    assert [c.referral_id for c in agenda.cases] == ids
    first = agenda.cases[0]
    assert dict(first.lines)["Oral medication"] == HOSTILE["wordxml"] + ": ineffective"
    assert first.triage.startswith("Ready for MDT")


def test_exports_are_audited_by_file_name(
    db: Database, db_path: Path, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    import sqlite3

    meeting_id, _ = hostile_meeting
    export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt="html", out=tmp_path / "agenda.html", rules=rules)
    with sqlite3.connect(db_path) as connection:
        action, changes = connection.execute(
            "SELECT action, changes FROM audit_event ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert action == "export" and '"agenda.html"' in changes and HOSTILE["cyrillic"] not in changes


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="does not exist"):
        write_atomically(tmp_path / "missing" / "a.pdf", b"x")
    target = tmp_path / "a.pdf"
    target.write_bytes(b"previous agenda")
    (tmp_path / "blocker").mkdir()
    with pytest.raises(ServiceError, match="cannot export"):
        write_atomically(tmp_path / "blocker", b"new")  # a folder where the file should go
    assert target.read_bytes() == b"previous agenda"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_unknown_format_is_named(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    with pytest.raises(ServiceError, match="'xls' is not an export format"):
        export_agenda_file(db, actor=admin, meeting_id=hostile_meeting[0], fmt="xls", out=tmp_path / "a", rules=rules)


@pytest.mark.parametrize("fmt", ["docx", "pdf"])
def test_outcome_letters_one_per_decided_case(
    db: Database, admin: Actor, hostile_meeting: tuple[int, list[int]], tmp_path: Path, fmt: str
) -> None:
    meeting_id, ids = hostile_meeting
    written = export_letters(db, actor=admin, meeting_id=meeting_id, fmt=fmt, out_dir=tmp_path, unit_name="Unit X")
    assert [p.name for p in written] == [f"outcome-letter-2026-12-03-referral-{ids[0]}.{fmt}"]
    flat = squash(docx_text(written[0]) if fmt == "docx" else pdf_text_of(written[0]))
    for value in (
        HOSTILE["formula"],
        HOSTILE["bold"],
        HOSTILE["greek"],
        "Decline",
        "UnitX",
        "Dear" + squash(HOSTILE["plus"]),
    ):
        assert squash(value) in flat, value


def test_a_unit_template_is_used_and_checked(
    db: Database, admin: Actor, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    template = tmp_path / "letter.txt"
    template.write_text("Our letter\n\nOutcome for $patient_name: $outcome\n", encoding="utf-8")
    (written,) = export_letters(
        db, actor=admin, meeting_id=hostile_meeting[0], fmt="docx", out_dir=tmp_path, template=template
    )
    assert Document(str(written)).paragraphs[1].text.endswith(": Decline")
    template.write_text("Title\n\n$patient_name $nonsense\n", encoding="utf-8")
    with pytest.raises(ServiceError, match="unknown placeholders: nonsense"):
        export_letters(db, actor=admin, meeting_id=hostile_meeting[0], fmt="pdf", out_dir=tmp_path, template=template)
