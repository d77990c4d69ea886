"""Agenda and outcome-summary writers: an `Agenda` in, the bytes of a CSV, HTML, Word or PDF file out.

Every value is text from the referral, so each writer makes it inert for its format: CSV cells that a
spreadsheet would run as a formula are neutralised, HTML and PDF markup is escaped (nothing is fetched), and
characters that XML forbids are dropped from Word documents.

Every format says what the app is for (`Agenda.intended_use`) beside the title, and the PDF and Word files
also in every page's footer; the rules line (`Agenda.rules_line`, which approved rules the triage used), when
there is one, follows it. Every case shows its triage as it stands, a lapsed consultant decision marked
"TRIAGE CHANGED: RECONFIRM" (safety.md, "The current decision").

A pseudonymised agenda (`Agenda.pseudonymised`) has only what `domain.meetings` put in it; its identity rows
and CSV columns are named for what they hold (initials, last four digits, age band), it has no hospital number
or date of birth rows or columns, and its clinical question and rationale say they are withheld.
"""

from __future__ import annotations

import csv
import io
from html import escape
from pathlib import Path
from typing import Any

from triage_app.domain.fields import CLINICAL_SECTIONS
from triage_app.domain.meetings import TRIAGE_CHANGED, Agenda, AgendaCase
from triage_app.exporters.pages import (
    a4_pages,
    a4_pdf,
    header_footer,
    keep_with_next,
    numbered_canvas,
    pdf_text,
    register_fonts,
    xml_text,
)

FORMATS = ("pdf", "docx", "csv", "html")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|")
BLANK = "_" * 40
LONG_TEXT = 1200  # characters: a longer value could make a table row taller than a page
RECONFIRM = TRIAGE_CHANGED.upper()


def needs_reconfirming(case: AgendaCase) -> bool:
    """Whether the case's consultant decision lapsed since it was listed: the agenda says so loudly."""
    return case.triage.startswith(RECONFIRM)


def case_heading(case: AgendaCase) -> str:
    """`Case 2: NAME, Given`, with the late-addition and triage-changed warnings when they apply."""
    late = "  (LATE ADDITION)" if case.late_addition else ""
    changed = f"  ({RECONFIRM})" if needs_reconfirming(case) else ""
    return f"Case {case.number}: {case.name}{late}{changed}"


def csv_cell(value: object) -> str:
    """A cell no spreadsheet will run: text that starts like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _decision(case: AgendaCase, agenda: Agenda) -> list[tuple[str, str]]:
    if agenda.outcomes:
        return [
            ("Outcome", case.outcome or "not recorded"),
            ("Rationale", case.rationale or "—"),
            ("Actions", "; ".join(case.actions) or "none"),
        ]
    return [("Outcome", BLANK), ("Actions", BLANK), ("Owner", BLANK)]


def _case_rows(case: AgendaCase, agenda: Agenda) -> list[tuple[str, str]]:
    """A case's label/value rows, the same in HTML, Word and PDF: identity, history, triage, decision."""
    rows = _identity(case, agenda) + list(case.lines) + [("Triage", case.triage)]
    rows += [("Criteria", "\n".join(case.criteria)), ("Cautions", "\n".join(case.flags) or "none")]
    return rows + _decision(case, agenda)


def _identity(case: AgendaCase, agenda: Agenda | None = None) -> list[tuple[str, str]]:
    if agenda is not None and agenda.pseudonymised:
        return [
            ("NHS number (last four)", case.nhs_number),
            ("Initials", case.name),
            ("Age band", case.age_band),
            ("Referrer", case.referrer),
            ("Received", case.received),
            ("Clinical question", case.clinical_question),  # says it is withheld
        ]
    rows = [("NHS number", case.nhs_number), ("Name", case.name)]
    if case.date_of_birth:
        rows.append(("Date of birth", case.date_of_birth))
    if case.hospital_number:
        rows.append(("Hospital number", case.hospital_number))
    rows += [("Referrer", case.referrer), ("Received", case.received), ("Clinical question", case.clinical_question)]
    return rows


# --- CSV ---------------------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "Case",
    "Late addition",
    "NHS number",
    "Name",
    "Date of birth",
    "Hospital number",
    "Referrer",
    "Received",
    "Clinical question",
    *CLINICAL_SECTIONS,
    "Triage",
    "Criteria",
    "Cautions",
    "Outcome",
    "Rationale",
    "Actions",
)
#: The pseudonymised CSV: identity columns named for what they hold; no date of birth or hospital number.
PSEUDONYMISED_CSV_COLUMNS = (
    "Case",
    "Late addition",
    "NHS number (last four)",
    "Initials",
    "Age band",
    *CSV_COLUMNS[6:],
)
_LINE_COLUMNS = CLINICAL_SECTIONS  # the case lines, by their labels


def _csv_values(case: AgendaCase, agenda: Agenda) -> list[object]:
    lines = dict(case.lines)
    history = [lines.get(label, "") for label in _LINE_COLUMNS]
    assessment = [case.triage, " | ".join(case.criteria), " | ".join(case.flags), case.outcome]
    actions = " | ".join(case.actions)
    late = "yes" if case.late_addition else ""
    who = (
        [case.nhs_number, case.name, case.age_band]
        if agenda.pseudonymised
        else [case.nhs_number, case.name, case.date_of_birth, case.hospital_number]
    )
    referral = [case.referrer, case.received, case.clinical_question]
    return [case.number, late, *who, *referral, *history, *assessment, case.rationale, actions]


def agenda_csv(agenda: Agenda) -> bytes:
    """One row per case under a header block; UTF-8 with a byte-order mark so Excel reads names right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(agenda.marking)])
    writer.writerow([csv_cell(agenda.title)])
    writer.writerow([csv_cell(agenda.intended_use)])
    if agenda.rules_line:
        writer.writerow([csv_cell(agenda.rules_line)])
    for label, text in agenda.meeting:
        writer.writerow([csv_cell(label), csv_cell(text)])
    writer.writerow(["Attendees", csv_cell("; ".join(agenda.attendees))])
    writer.writerow(["Quorum", csv_cell(agenda.quorum)])
    writer.writerow(["Generated", csv_cell(agenda.generated)])
    writer.writerow([])
    writer.writerow(PSEUDONYMISED_CSV_COLUMNS if agenda.pseudonymised else CSV_COLUMNS)
    for case in agenda.cases:
        writer.writerow([csv_cell(v) for v in _csv_values(case, agenda)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- HTML (also the print preview) ---------------------------------------------------------------------------------


def agenda_html(agenda: Agenda) -> bytes:
    """A self-contained HTML page (no scripts, no external resources) laid out for A4 printing."""

    def e(value: str) -> str:
        return escape(xml_text(value))

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{e(agenda.title)}</title>",
        "<style>@page{size:A4;margin:18mm}body{font-family:sans-serif;font-size:10.5pt}"
        ".marking{border:2px solid #a00;color:#a00;font-weight:bold;padding:4px;text-align:center}"
        ".case{page-break-inside:avoid;border-top:1px solid #888;margin-top:10px;padding-top:6px}"
        "th{text-align:left;vertical-align:top;padding-right:8px;white-space:nowrap}td{vertical-align:top}"
        ".late{color:#a00;font-weight:bold}.notquorate{color:#a00;font-weight:bold}.reconfirm{color:#a00;font-weight:bold}"
        ".intended-use{font-style:italic;border-left:3px solid #888;padding-left:6px}"
        ".rules-line{font-size:9pt;color:#444;padding-left:9px}</style></head><body>",
        f"<p class='marking'>{e(agenda.marking)}</p>",
        f"<h1>{e(agenda.title)}</h1>",
        f"<p class='intended-use'>{e(agenda.intended_use)}</p>",
        f"<p class='rules-line'>{e(agenda.rules_line)}</p>" if agenda.rules_line else "",
        "<table>",
    ]
    for label, text in agenda.meeting:
        parts.append(f"<tr><th>{e(label)}</th><td>{e(text)}</td></tr>")
    parts.append(f"<tr><th>Attendees</th><td>{e('; '.join(agenda.attendees) or 'none listed')}</td></tr>")
    quorum_class = "" if agenda.quorate else " class='notquorate'"
    parts.append(f"<tr><th>Quorum</th><td{quorum_class}>{e(agenda.quorum)}</td></tr>")
    parts.append(f"<tr><th>Generated</th><td>{e(agenda.generated)}</td></tr></table>")
    for case in agenda.cases:
        late = " <span class='late'>LATE ADDITION</span>" if case.late_addition else ""
        changed = needs_reconfirming(case)
        if changed:
            late += f" <span class='reconfirm'>{e(RECONFIRM)}</span>"
        parts.append(f"<div class='case'><h2>Case {case.number}: {e(case.name)}{late}</h2><table>")
        for label, text in _case_rows(case, agenda):
            cell = "<br>".join(e(line) for line in text.split("\n"))
            alarm = " class='reconfirm'" if changed and label == "Triage" else ""
            parts.append(f"<tr><th>{e(label)}</th><td{alarm}>{cell}</td></tr>")
        parts.append("</table></div>")
    parts.append(f"<p class='intended-use'>{e(agenda.intended_use)}</p>")
    parts.append(f"<p class='marking'>{e(agenda.marking)}</p></body></html>")
    return "".join(parts).encode("utf-8")


# --- Word --------------------------------------------------------------------------------------------------------


def agenda_docx(agenda: Agenda) -> bytes:
    """An A4 Word document: marking in the header, intended use and page numbers in the footer, cases kept
    whole."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    a4_pages(document)
    document.styles["Normal"].font.size = Pt(10)
    header_footer(document, agenda.marking, agenda.intended_use)
    document.add_paragraph(xml_text(agenda.marking)).runs[0].bold = True
    document.add_heading(xml_text(agenda.title), level=1)
    document.add_paragraph(xml_text(agenda.intended_use)).runs[0].italic = True
    if agenda.rules_line:
        document.add_paragraph(xml_text(agenda.rules_line))
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, text in [
        *agenda.meeting,
        ("Attendees", "; ".join(agenda.attendees) or "none listed"),
        ("Quorum", agenda.quorum),
        ("Generated", agenda.generated),
    ]:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = xml_text(label), xml_text(text)
    for case in agenda.cases:
        heading = document.add_heading(xml_text(case_heading(case)), level=2)
        keep_with_next(heading)
        case_table = document.add_table(rows=0, cols=2)
        case_table.style = "Table Grid"
        for label, text in _case_rows(case, agenda):
            cells = case_table.add_row().cells
            cells[0].text, cells[1].text = xml_text(label), xml_text(text)
            if label == "Triage" and needs_reconfirming(case):
                for run in cells[1].paragraphs[0].runs:
                    run.bold = True
            for cell in cells:
                for paragraph in cell.paragraphs:
                    keep_with_next(paragraph)  # a case's rows stay on one page where they fit
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- PDF ---------------------------------------------------------------------------------------------------------


def agenda_pdf(agenda: Agenda, *, font_dir: Path) -> bytes:
    """An A4 PDF: marking, intended use and "Page N of M" on every page, each case kept on one page where it
    fits."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

    regular, bold = register_fonts(font_dir)
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
    label = ParagraphStyle("label", parent=body, fontName=bold)
    title = ParagraphStyle("title", fontName=bold, fontSize=15, leading=19, spaceAfter=6)
    heading = ParagraphStyle("heading", fontName=bold, fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=3)
    marking = ParagraphStyle(
        "marking",
        parent=label,
        textColor=colors.darkred,
        borderColor=colors.darkred,
        borderWidth=1,
        borderPadding=3,
        alignment=1,
        spaceAfter=8,
    )

    warning = ParagraphStyle("warning", parent=label, textColor=colors.darkred)
    intended = ParagraphStyle(
        "intended-use", parent=body, fontSize=8.5, leading=11, spaceAfter=8, textColor=colors.dimgrey
    )

    def grid(rows: list[tuple[str, str]]) -> list[Any]:
        """A label/value table; values too long for one page follow it as paragraphs, which can break."""
        cells, overflow = [], []
        for a, b in rows:
            alarm = (a == "Quorum" and not agenda.quorate) or (a == "Triage" and b.startswith(RECONFIRM))
            if len(b) > LONG_TEXT:
                cells.append([Paragraph(pdf_text(a), label), Paragraph("(in full below)", body)])
                overflow += [Paragraph(pdf_text(a), label), Paragraph(pdf_text(b), body)]
            else:
                cells.append([Paragraph(pdf_text(a), label), Paragraph(pdf_text(b), warning if alarm else body)])
        table = Table(cells, colWidths=[38 * mm, 136 * mm])
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                ]
            )
        )
        return [table, *overflow]

    story: list[Any] = [
        Paragraph(pdf_text(agenda.marking), marking),
        Paragraph(pdf_text(agenda.title), title),
        Paragraph(pdf_text(agenda.intended_use), intended),
    ]
    if agenda.rules_line:
        story.append(Paragraph(pdf_text(agenda.rules_line), intended))
    story += grid(
        [
            *agenda.meeting,
            ("Attendees", "; ".join(agenda.attendees) or "none listed"),
            ("Quorum", agenda.quorum),
            ("Generated", agenda.generated),
        ]
    )
    for case in agenda.cases:
        heading_row = Paragraph(pdf_text(case_heading(case)), heading)
        story.append(KeepTogether([heading_row, *grid(_case_rows(case, agenda))]))
        story.append(Spacer(1, 4 * mm))
    return a4_pdf(
        story,
        numbered_canvas(agenda.marking, regular, agenda.intended_use),
        margins_mm=(18, 18, 18, 20),
        title=agenda.title,
        author="SPD MDT",
        subject=agenda.marking,
    )


def export_agenda(agenda: Agenda, fmt: str, *, font_dir: Path) -> bytes:
    """The agenda in one of FORMATS."""
    if fmt == "csv":
        return agenda_csv(agenda)
    if fmt == "html":
        return agenda_html(agenda)
    if fmt == "docx":
        return agenda_docx(agenda)
    if fmt == "pdf":
        return agenda_pdf(agenda, font_dir=font_dir)
    raise ValueError(f"'{fmt}' is not an export format: {', '.join(FORMATS)}")
