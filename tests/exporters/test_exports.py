"""Every export read back: PDF text (pypdf and pdftotext), Word (python-docx), CSV (csv module), HTML.

A corpus of hostile values goes into every exported field and must come out as the literal text: CSV cells
neutralised against formula injection, Word valid, PDF and HTML showing the text and fetching nothing.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

from tests.exporters.corpus import HOSTILE, LONG, MEETING_DAY
from tests.exporters.readback import docx_everything, pdf_text_of, poppler_text, squash
from triage_app.domain.rules import Rules
from triage_app.services.errors import ServiceError
from triage_app.services.exports import export_agenda_file, export_letters, make_agenda, write_atomically
from triage_app.services.users import Actor
from triage_app.storage.engine import Database


@pytest.mark.parametrize("outcomes", [False, True], ids=["agenda", "outcome-summary"])
@pytest.mark.hazard("H11")
def test_pdf_shows_hostile_text_literally_and_fetches_nothing(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path, outcomes: bool
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(
        db, actor=admin, meeting_id=meeting_id, fmt="pdf", out=tmp_path / "a.pdf", outcomes=outcomes, today=MEETING_DAY
    )
    reader = PdfReader(out)
    text = squash(pdf_text_of(out))
    assert "\x00" not in text and "annbell" in text  # a control character is dropped, not drawn as a box
    # The outcome summary is one table of outcomes: who, the outcome, rationale, actions; the agenda has it all.
    shown = ("formula", "greek", "cyrillic", "at", "bold", "minus") if outcomes else tuple(HOSTILE)
    for key in shown:
        assert squash(HOSTILE[key]) in text, key
    if not outcomes:
        assert squash(LONG) in text  # long text whole, across pages if need be
    everything = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert "CONFIDENTIAL: patient-identifiable data" in everything and "Page 1 of" in everything
    raw = out.read_bytes()
    for forbidden in (b"/URI", b"/Launch", b"/JavaScript", b"/JS", b"/Subtype /Image", b"/Subtype/Image"):
        assert forbidden not in raw
    first = reader.pages[0].mediabox  # A4: landscape for the table of cases or outcomes
    assert (first.width, first.height) == (pytest.approx(841.89, abs=1), pytest.approx(595.28, abs=1))
    if not outcomes:
        assert reader.pages[-1].mediabox.width == pytest.approx(595.28, abs=1)  # the cases in full: portrait
    if outcomes:
        assert "outcome" in text and "decline" in text and squash("write to GP") in text
    poppler = poppler_text(out)
    if poppler is not None:  # poppler reads a table's cells line by line across the row: check each word
        assert all(squash(word) in squash(poppler) for word in HOSTILE["cyrillic"].split())
        if not outcomes:
            assert squash(HOSTILE["img"]) in squash(poppler)


@pytest.mark.hazard("H11")
def test_word_document_is_valid_and_literal(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt="docx", out=tmp_path / "a.docx")
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
    widths = [s.page_width.mm for s in document.sections if s.page_width is not None]
    assert [round(w) for w in widths] == [297, 210]  # the case list on landscape A4, the cases on portrait


@pytest.mark.hazard("H11")
def test_csv_cells_are_neutralised(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt="csv", out=tmp_path / "a.csv")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert rows[0][0] == "Case" and rows[1][rows[0].index("Marking")].startswith("CONFIDENTIAL")
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    folded = [c.casefold() for c in cells]
    for key in ("formula", "plus", "minus", "at"):
        assert any(c.startswith("'" + HOSTILE[key].casefold()) for c in folded), key
    for key in ("bold", "img", "template", "greek", "cyrillic", "quote", "wordxml"):
        assert any(HOSTILE[key].casefold() in c for c in folded), key
    assert len(rows) == 1 + 3  # the header, then one row per case


@pytest.mark.hazard("H11")
def test_html_escapes_everything(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt="html", out=tmp_path / "a.html")
    html = out.read_text(encoding="utf-8")
    assert "<img" not in html and "<b>not" not in html
    assert "&lt;img src=&#x27;http://example.invalid/x.png&#x27;&gt;" in html
    assert "{{7*7}}" in html and HOSTILE["cyrillic"].upper() in html and "\x07" not in html
    assert "default-src 'none'" in html


@pytest.mark.hazard("H11")
def test_pseudonymised_agenda_carries_no_names(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    meeting_id, _ = hostile_meeting
    out = export_agenda_file(
        db, actor=admin, meeting_id=meeting_id, fmt="csv", out=tmp_path / "p.csv", pseudonymised=True
    )
    text = out.read_text(encoding="utf-8-sig")
    assert HOSTILE["cyrillic"].upper() not in text and "999 000" not in text and "xxx xxx " in text
    assert "Pseudonymised" in text


def test_agenda_header_and_case_sections(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]]
) -> None:
    meeting_id, ids = hostile_meeting
    agenda = make_agenda(db, meeting_id=meeting_id)
    assert agenda.quorum == "Not quorate: no movement disorders neurologist, no physiotherapist"
    assert [c.referral_id for c in agenda.cases] == ids
    first = agenda.cases[0]
    assert dict(first.lines)["Oral medication"] == HOSTILE["wordxml"] + ": ineffective"
    assert first.triage.startswith("Ready for MDT")


@pytest.mark.hazard("H11")
def test_exports_are_audited_by_file_name(
    db: Database, admin: Actor, rules: Rules, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    import sqlalchemy as sa

    meeting_id, _ = hostile_meeting
    export_agenda_file(db, actor=admin, meeting_id=meeting_id, fmt="html", out=tmp_path / "agenda.html")
    with db.read() as session:
        action, changes = session.execute(
            sa.text("SELECT action, changes FROM audit_event ORDER BY id DESC LIMIT 1")
        ).one()
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
        export_agenda_file(db, actor=admin, meeting_id=hostile_meeting[0], fmt="xls", out=tmp_path / "a")


@pytest.mark.parametrize("fmt", ["docx", "pdf"])
@pytest.mark.hazard("H10")
def test_outcome_letters_one_per_decided_case(
    db: Database, admin: Actor, hostile_meeting: tuple[int, list[int]], tmp_path: Path, fmt: str
) -> None:
    meeting_id, ids = hostile_meeting
    written = export_letters(
        db, actor=admin, meeting_id=meeting_id, fmt=fmt, out_dir=tmp_path, unit_name="Unit X", today=MEETING_DAY
    )
    (name,) = [p.name for p in written]  # named by patient and meeting date, never by internal id
    assert name.endswith(f"MDT outcome 03-Dec-2026.{fmt}") and f"referral-{ids[0]}" not in name
    flat = squash(docx_everything(written[0]) if fmt == "docx" else pdf_text_of(written[0]))
    for value in (
        HOSTILE["formula"],
        HOSTILE["bold"],
        HOSTILE["greek"],
        "Decline",
        "UnitX",
        "Dear" + squash(HOSTILE["plus"]),
    ):
        assert squash(value) in flat, value


UNIT_TEMPLATE = (
    "Our letter\n\nOutcome for $patient_name: $outcome\n\n$nhs_number $date_of_birth, $today\n\n$intended_use\n\n"
    "$signatory\n\n"
)


def test_a_unit_template_is_used_and_checked(
    db: Database, admin: Actor, hostile_meeting: tuple[int, list[int]], tmp_path: Path
) -> None:
    template = tmp_path / "letter.txt"
    template.write_text(UNIT_TEMPLATE, encoding="utf-8")
    (written,) = export_letters(
        db,
        actor=admin,
        meeting_id=hostile_meeting[0],
        fmt="docx",
        out_dir=tmp_path,
        template=template,
        today=MEETING_DAY,
    )
    assert Document(str(written)).paragraphs[1].text.endswith(": Decline")
    template.write_text(UNIT_TEMPLATE + "$patient_name $nonsense\n", encoding="utf-8")
    with pytest.raises(ServiceError, match="unknown placeholders: nonsense"):
        export_letters(
            db,
            actor=admin,
            meeting_id=hostile_meeting[0],
            fmt="pdf",
            out_dir=tmp_path,
            template=template,
            today=MEETING_DAY,
        )
