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

import copy
import csv
import io
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from triage_app.domain.fields import CLINICAL_SECTIONS
from triage_app.domain.meetings import TRIAGE_CHANGED, Agenda, AgendaCase
from triage_app.exporters.pages import (
    LANDSCAPE,
    PORTRAIT,
    a4_pages,
    a4_pdf_oriented,
    column_widths,
    header_footer,
    keep_with_next,
    numbered_canvas,
    pdf_text,
    register_fonts,
    repeat_header_row,
    turn_section,
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
            ("Recorded by", case.recorded_by or "—"),
        ]
    return [("Outcome", BLANK), ("Actions", BLANK), ("Owner", BLANK)]


def _case_rows(case: AgendaCase, agenda: Agenda) -> list[tuple[str, str]]:
    """A case's label/value rows, the same in HTML, Word and PDF: identity, history, triage, decision."""
    rows = _identity(case, agenda) + list(case.lines) + [("Triage", case.triage)]
    if case.decision:
        rows.append(("Consultant's decision", case.decision))
    cautions = case.caution_details or case.flags
    rows += [("Criteria", "\n".join(case.criteria)), ("Cautions", "\n".join(cautions) or "none")]
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


# --- what every format shows first: the meeting, then one table of every case ----------------------------------

TABLE_TEXT = 320  # characters of a value shown in a table cell; the case's own section has it in full
LATE = "LATE"
LATE_NOTE = "LATE: listed after the agenda was circulated"


def meeting_details(agenda: Agenda) -> list[tuple[str, str]]:
    """The meeting's header rows in words: when, where, who chairs, who attends (and, once taken, who attended),
    the quorum, closing, when the agenda went out and when this copy was made."""
    rows = list(agenda.meeting)
    rows.append(("Attendees", "; ".join(agenda.attendees) or "none listed"))
    if agenda.attendance or agenda.absent:
        rows.append(("Attended", "; ".join(agenda.attendance) or "nobody recorded as present"))
        if agenda.absent:
            rows.append(("Not present", "; ".join(agenda.absent)))
    rows.append(("Quorum", agenda.quorum))
    if agenda.closed:
        rows.append(("Closed", agenda.closed))
    if agenda.circulated:
        rows.append(("Agenda circulated", agenda.circulated))
    rows.append(("Generated", agenda.generated))
    return rows


def _short(text: str, number: int) -> str:
    """A table cell's text: a long value cut, saying where it is in full."""
    if len(text) <= TABLE_TEXT:
        return text
    return text[: TABLE_TEXT - 20].rstrip() + f"… (in full under case {number})"


def _born(case: AgendaCase) -> str:
    return case.date_of_birth.split(" (age")[0]


def _weeks(case: AgendaCase) -> str:
    return case.weeks_waiting + (f" ({case.weeks_by_meeting} by the meeting)" if case.weeks_by_meeting else "")


def case_list_columns(agenda: Agenda) -> tuple[str, ...]:
    """The columns of the agenda's case list (identifiers named for what they hold when pseudonymised)."""
    if agenda.pseudonymised:
        return (
            "No.",
            "Initials",
            "NHS number (last four)",
            "Age band",
            "Priority",
            "Weeks waiting",
            "Cautions",
            "Clinical question",
        )
    return (
        "No.",
        "Name",
        "NHS number",
        "Hospital number",
        "Age",
        "Priority",
        "Weeks waiting",
        "Cautions",
        "Clinical question",
    )


def case_number(case: AgendaCase) -> str:
    """`3`, with LATE and the triage-changed warning under it when they apply."""
    marks = (
        [str(case.number)]
        + ([LATE] if case.late_addition else [])
        + (["RECONFIRM"] if needs_reconfirming(case) else [])
    )
    return "\n".join(marks)


def case_list_rows(agenda: Agenda) -> list[list[str]]:
    """One row per case, in the meeting's order, every cell in words."""
    rows = []
    for case in agenda.cases:
        cautions = "\n".join(case.cautions) or "none"
        question = _short(case.clinical_question, case.number)
        if agenda.pseudonymised:
            who = [case.name, case.nhs_number, case.age_band]
        else:
            born = _born(case)
            who = [
                case.name + (f"\nborn {born}" if born else ""),
                case.nhs_number,
                case.hospital_number or "—",
                case.age,
            ]
        rows.append([case_number(case), *who, case.priority, _weeks(case), cautions, question])
    return rows


def outcome_columns(agenda: Agenda) -> tuple[str, ...]:
    """The columns of the outcome summary's table."""
    patient = "Patient (initials, age band)" if agenda.pseudonymised else "Patient"
    nhs = "NHS number (last four)" if agenda.pseudonymised else "NHS number"
    return ("No.", patient, nhs, "Outcome", "Rationale", "Actions (owner, due)", "Recorded by")


def outcome_rows(agenda: Agenda) -> list[list[str]]:
    """One row per case: who, the outcome in words, its rationale, the actions with owner and due date, and who
    recorded it."""
    rows = []
    for case in agenda.cases:
        if agenda.pseudonymised:
            patient = f"{case.name}\nage {case.age_band}"
        else:
            born = _born(case)
            extra = ([f"born {born}"] if born else []) + (
                [f"hospital no. {case.hospital_number}"] if case.hospital_number else []
            )
            patient = "\n".join([case.name, *extra])
        rows.append(
            [
                case_number(case),
                patient,
                case.nhs_number,
                case.outcome or "not recorded",
                case.rationale or "—",
                "\n".join(case.actions) or "none",
                case.recorded_by or "—",
            ]
        )
    return rows


def table_note(agenda: Agenda) -> str:
    """The key under the table: what LATE and RECONFIRM mean, when they appear."""
    notes = []
    if any(c.late_addition for c in agenda.cases):
        notes.append(LATE_NOTE + (f" on {agenda.circulated}" if agenda.circulated else ""))
    if any(needs_reconfirming(c) for c in agenda.cases):
        notes.append("RECONFIRM: the triage changed since the consultant's decision; a consultant reconfirms it")
    return ". ".join(notes)


# --- CSV ---------------------------------------------------------------------------------------------------------

#: The meeting's details, repeated on every row (a spreadsheet has no place for a header block), then what the
#: document is: its marking, the intended use and the rules in force. No video link: a way into the meeting.
MEETING_CSV_COLUMNS = (
    "Meeting date",
    "Meeting time",
    "Place",
    "Chair",
    "Quorum",
    "Marking",
    "Intended use",
    "Rules in force",
    "Generated",
)
CSV_COLUMNS = (
    "Case",
    "Late addition",
    "NHS number",
    "Name",
    "Date of birth",
    "Age",
    "Hospital number",
    "Priority",
    "Weeks waiting",
    "Weeks waiting by the meeting",
    "Cautions",
    "Clinical question",
    "Referrer",
    "Received",
    *CLINICAL_SECTIONS,
    "Triage",
    "Consultant's decision",
    "Criteria",
    "Caution details",
    "Outcome",
    "Rationale",
    "Actions",
    "Outcome recorded by",
    *MEETING_CSV_COLUMNS,
)
#: The pseudonymised CSV: identity columns named for what they hold; no date of birth or hospital number.
PSEUDONYMISED_CSV_COLUMNS = (
    "Case",
    "Late addition",
    "NHS number (last four)",
    "Initials",
    "Age band",
    *CSV_COLUMNS[7:],
)
_LINE_COLUMNS = CLINICAL_SECTIONS  # the case lines, by their labels


def _csv_values(case: AgendaCase, agenda: Agenda, meeting: list[str]) -> list[object]:
    lines = dict(case.lines)
    history = [lines.get(label, "") for label in _LINE_COLUMNS]
    late = "yes" if case.late_addition else "no"
    who = (
        [case.nhs_number, case.name, case.age_band]
        if agenda.pseudonymised
        else [case.nhs_number, case.name, _born(case), case.age, case.hospital_number]
    )
    waiting = [case.priority, case.weeks_waiting, case.weeks_by_meeting or case.weeks_waiting]
    listed = ["; ".join(case.cautions), case.clinical_question, case.referrer, case.received]
    details = case.caution_details or case.flags
    assessment = [case.triage, case.decision, " | ".join(case.criteria), " | ".join(details)]
    outcome = [case.outcome, case.rationale, " | ".join(case.actions), case.recorded_by]
    return [case.number, late, *who, *waiting, *listed, *history, *assessment, *outcome, *meeting]


def agenda_csv(agenda: Agenda) -> bytes:
    """The header in row 1, then one row per case in the meeting's order, the meeting's details and the
    document's marking and intended use repeated on each row; UTF-8 with a byte-order mark so Excel reads names
    right. No cell starts like a formula (`csv_cell`)."""
    details = dict(agenda.meeting)
    when = details.get("Date", "")
    day, _, time = when.partition(" at ")
    meeting = [
        day,
        time,
        details.get("Place", ""),
        details.get("Chair", ""),
        agenda.quorum,
        agenda.marking,
        agenda.intended_use,
        agenda.rules_line,
        agenda.generated,
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(PSEUDONYMISED_CSV_COLUMNS if agenda.pseudonymised else CSV_COLUMNS)
    for case in agenda.cases:
        writer.writerow([csv_cell(v) for v in _csv_values(case, agenda, meeting)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- HTML (also the print preview) ---------------------------------------------------------------------------------


def agenda_html(agenda: Agenda) -> bytes:
    """A self-contained HTML page (no scripts, no external resources) laid out for A4 printing: the meeting, one
    table of every case (or of every outcome), then each case in full (the agenda)."""

    def e(value: str) -> str:
        return escape(xml_text(value))

    def lines(value: str) -> str:
        return "<br>".join(e(line) for line in value.split("\n"))

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{e(agenda.title)}</title>",
        "<style>@page{size:A4;margin:15mm}body{font-family:sans-serif;font-size:10.5pt}"
        ".marking{border:2px solid #a00;color:#a00;font-weight:bold;padding:4px;text-align:center}"
        ".case{page-break-inside:avoid;border-top:1px solid #888;margin-top:10px;padding-top:6px}"
        "th{text-align:left;vertical-align:top;padding-right:8px}td{vertical-align:top}"
        "table.list{border-collapse:collapse;width:100%;font-size:9pt}"
        "table.list th,table.list td{border:1px solid #999;padding:3px}table.list th{background:#eee}"
        "table.list tr{page-break-inside:avoid}tr.late-row td{background:#fff4d6}"
        ".details b{display:inline-block;min-width:9em}.details{margin:2px 0}"
        ".late{color:#a00;font-weight:bold}.notquorate{color:#a00;font-weight:bold}.reconfirm{color:#a00;font-weight:bold}"
        ".intended-use{font-style:italic;border-left:3px solid #888;padding-left:6px}"
        ".rules-line{font-size:9pt;color:#444;padding-left:9px}.note{font-size:9pt}</style></head><body>",
        f"<p class='marking'>{e(agenda.marking)}</p>",
        f"<h1>{e(agenda.title)}</h1>",
        f"<p class='intended-use'>{e(agenda.intended_use)}</p>",
        f"<p class='rules-line'>{e(agenda.rules_line)}</p>" if agenda.rules_line else "",
    ]
    for label, text in meeting_details(agenda):
        alarm = " class='notquorate'" if label == "Quorum" and not agenda.quorate else ""
        parts.append(f"<p class='details'><b>{e(label)}</b> <span{alarm}>{e(text)}</span></p>")
    columns, rows = (
        (outcome_columns(agenda), outcome_rows(agenda))
        if agenda.outcomes
        else (case_list_columns(agenda), case_list_rows(agenda))
    )
    caption = "Outcomes" if agenda.outcomes else "Cases"
    parts.append(f"<h2>{caption} ({len(agenda.cases)})</h2><table class='list'><thead><tr>")
    parts.extend(f"<th>{e(column)}</th>" for column in columns)
    parts.append("</tr></thead><tbody>")
    for case, row in zip(agenda.cases, rows, strict=True):
        late = " class='late-row'" if case.late_addition else ""
        parts.append(f"<tr{late}>" + "".join(f"<td>{lines(cell)}</td>" for cell in row) + "</tr>")
    parts.append("</tbody></table>")
    note = table_note(agenda)
    if note:
        parts.append(f"<p class='note'>{e(note)}</p>")
    for case in () if agenda.outcomes else agenda.cases:
        late = " <span class='late'>LATE ADDITION</span>" if case.late_addition else ""
        changed = needs_reconfirming(case)
        if changed:
            late += f" <span class='reconfirm'>{e(RECONFIRM)}</span>"
        parts.append(f"<div class='case'><h2>Case {case.number}: {e(case.name)}{late}</h2><table>")
        for label, text in _case_rows(case, agenda):
            alarm = " class='reconfirm'" if changed and label == "Triage" else ""
            parts.append(f"<tr><th>{e(label)}</th><td{alarm}>{lines(text)}</td></tr>")
        parts.append("</table></div>")
    parts.append(f"<p class='intended-use'>{e(agenda.intended_use)}</p>")
    parts.append(f"<p class='marking'>{e(agenda.marking)}</p></body></html>")
    return "".join(parts).encode("utf-8")


# --- Word --------------------------------------------------------------------------------------------------------


#: Column widths (mm) of each table on a landscape A4 page (261 mm between 18 mm margins).
CASE_LIST_WIDTHS = (13.0, 40.0, 25.0, 23.0, 11.0, 18.0, 24.0, 46.0, 61.0)
PSEUDONYMISED_LIST_WIDTHS = (13.0, 22.0, 28.0, 18.0, 18.0, 24.0, 58.0, 80.0)
OUTCOME_WIDTHS = (12.0, 46.0, 26.0, 32.0, 62.0, 52.0, 31.0)
#: Columns short enough to draw as plain text in the PDF (no markup, wrapped to the column).
PLAIN_COLUMNS = frozenset({"No.", "NHS number", "NHS number (last four)", "Age", "Age band", "Priority"})


def _table_layout(agenda: Agenda) -> tuple[tuple[str, ...], list[list[str]], tuple[float, ...]]:
    """The first table's columns, rows and widths: the outcomes (summary) or the case list (agenda)."""
    if agenda.outcomes:
        return outcome_columns(agenda), outcome_rows(agenda), OUTCOME_WIDTHS
    widths = PSEUDONYMISED_LIST_WIDTHS if agenda.pseudonymised else CASE_LIST_WIDTHS
    return case_list_columns(agenda), case_list_rows(agenda), widths


def agenda_docx(agenda: Agenda) -> bytes:
    """An A4 Word document: marking in the header, intended use and page numbers in the footer; the meeting and
    one table of every case (or outcome) on landscape pages, its header row repeated on each; then, on portrait
    pages, each case kept whole (the agenda)."""
    from docx import Document
    from docx.enum.section import WD_SECTION
    from docx.shared import Pt, RGBColor

    document = Document()
    a4_pages(document)
    turn_section(document.sections[0], LANDSCAPE)
    document.styles["Normal"].font.size = Pt(10)
    header_footer(document, agenda.marking, agenda.intended_use)
    document.add_paragraph(xml_text(agenda.marking)).runs[0].bold = True
    document.add_heading(xml_text(agenda.title), level=1)
    document.add_paragraph(xml_text(agenda.intended_use)).runs[0].italic = True
    if agenda.rules_line:
        document.add_paragraph(xml_text(agenda.rules_line))
    for label, text in meeting_details(agenda):
        paragraph = document.add_paragraph()
        paragraph.paragraph_format.space_after = Pt(1)
        paragraph.add_run(xml_text(label) + ": ").bold = True
        run = paragraph.add_run(xml_text(text))
        if label == "Quorum" and not agenda.quorate:
            run.bold = True
    columns, rows, widths = _table_layout(agenda)
    document.add_heading(f"{'Outcomes' if agenda.outcomes else 'Cases'} ({len(agenda.cases)})", level=2)
    table = document.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    for cell, column in zip(table.rows[0].cells, columns, strict=True):
        cell.text = column
        cell.paragraphs[0].runs[0].bold = True
    repeat_header_row(table.rows[0])
    column_widths(table, widths)
    for case, values in zip(agenda.cases, rows, strict=True):
        cells = table.add_row().cells
        for index, (cell, value) in enumerate(zip(cells, values, strict=True)):
            run = cell.paragraphs[0].add_run(xml_text(value))
            run.font.size = Pt(8.5)
            if index == 0 and (case.late_addition or needs_reconfirming(case)):
                run.bold = True
                run.font.color.rgb = RGBColor(0xA0, 0, 0)
    note = table_note(agenda)
    if note:
        document.add_paragraph(xml_text(note)).runs[0].font.size = Pt(8.5)
    if not agenda.outcomes and agenda.cases:
        turn_section(document.add_section(WD_SECTION.NEW_PAGE), PORTRAIT)
    for case in () if agenda.outcomes else agenda.cases:
        heading = document.add_heading(xml_text(case_heading(case)), level=2)
        keep_with_next(heading)
        case_table = document.add_table(rows=0, cols=2)
        case_table.style = "Table Grid"
        column_widths(case_table, (40.0, 134.0))
        changed = needs_reconfirming(case)
        _kept_rows(
            case_table,
            [((label, False), (text, changed and label == "Triage")) for label, text in _case_rows(case, agenda)],
        )
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _kept_rows(table: Any, rows: Sequence[Sequence[tuple[str, bool]]]) -> None:
    """Append `rows` of (text, bold) cells to a Word table, each paragraph kept with the next, so a case's rows stay
    on one page where they fit.

    python-docx's add_row and cell.text cost about 1 ms a row (each copies the grid's widths and looks up where
    every property goes), which put a 40-case agenda over its one second: one row is made that way, with its
    paragraphs' keep properties, and every row is a copy of it with its text added. A line break in the text is a
    Word line break, as cell.text makes it.
    """
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    prototype = table.add_row()
    for cell in prototype.cells:
        keep_with_next(cell.paragraphs[0])
    row = prototype._tr
    body = row.getparent()
    body.remove(row)
    for values in rows:
        copied = copy.deepcopy(row)
        for cell, (text, bold) in zip(copied.iterchildren(qn("w:tc")), values, strict=True):
            run = OxmlElement("w:r")
            if bold:
                properties = OxmlElement("w:rPr")
                properties.append(OxmlElement("w:b"))
                run.append(properties)
            for number, line in enumerate(xml_text(text).split("\n")):
                if number:
                    run.append(OxmlElement("w:br"))
                part = OxmlElement("w:t")
                part.set(qn("xml:space"), "preserve")
                part.text = line
                run.append(part)
            cell.find(qn("w:p")).append(run)
        body.append(copied)


# --- PDF ---------------------------------------------------------------------------------------------------------


def agenda_pdf(agenda: Agenda, *, font_dir: Path) -> bytes:
    """An A4 PDF: marking, intended use and "Page N of M" on every page; the meeting and one table of every case
    (or outcome) on landscape pages, its header row repeated on each; then, on portrait pages, each case kept on
    one page where it fits (the agenda)."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.lib.utils import simpleSplit
    from reportlab.platypus import KeepTogether, NextPageTemplate, PageBreak, Paragraph, Spacer, Table, TableStyle

    regular, bold = register_fonts(font_dir)
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
    label = ParagraphStyle("label", parent=body, fontName=bold)
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=cell, fontName=bold)
    title = ParagraphStyle("title", fontName=bold, fontSize=15, leading=19, spaceAfter=6)
    heading = ParagraphStyle("heading", fontName=bold, fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=3)
    alarm = not agenda.quorate
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

    def plain(text: str, font: str, size: float, width_mm: float) -> str:
        """A short cell as plain text, wrapped to its column: drawn as is, far cheaper than a Paragraph (a
        40-case agenda has some two thousand cells)."""
        inner = width_mm * mm - 12  # the table's default padding, 6 points either side
        return "\n".join(
            line for part in xml_text(text).split("\n") for line in simpleSplit(part, font, size, inner) or [""]
        )

    def grid(rows: list[tuple[str, str]]) -> list[Any]:
        """A label/value table; values too long for one page follow it as paragraphs, which can break."""
        cells, overflow = [], []
        for a, b in rows:
            alarm = a == "Triage" and b.startswith(RECONFIRM)
            name = plain(a, bold, 9, 38)
            if len(b) > LONG_TEXT:
                cells.append([name, Paragraph("(in full below)", body)])
                overflow += [Paragraph(pdf_text(a), label), Paragraph(pdf_text(b), body)]
            else:
                cells.append([name, Paragraph(pdf_text(b), warning if alarm else body)])
        table = Table(cells, colWidths=[38 * mm, 136 * mm])
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                    ("FONT", (0, 0), (0, -1), bold, 9, 11.5),
                ]
            )
        )
        return [table, *overflow]

    def listing() -> list[Any]:
        """The first table: every case (agenda) or every outcome (summary), a row never split across pages."""
        columns, rows, widths = _table_layout(agenda)
        short = [index for index, column in enumerate(columns) if column in PLAIN_COLUMNS]
        overflow: list[Any] = []
        data: list[list[Any]] = [[Paragraph(pdf_text(c), head) for c in columns]]
        style = [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("FONT", (0, 1), (-1, -1), regular, 8, 10),
        ]
        for number, (case, values) in enumerate(zip(agenda.cases, rows, strict=True), start=1):
            shown: list[Any] = []
            for index, value in enumerate(values):
                if len(value) > LONG_TEXT:  # only the summary's rationale or actions: in full under the table
                    overflow += [
                        Paragraph(pdf_text(f"Case {case.number}, {columns[index].lower()}"), label),
                        Paragraph(pdf_text(value), body),
                    ]
                    value = value[: TABLE_TEXT - 20] + "… (in full under the table)"
                if index in short:
                    shown.append(plain(value, bold if index == 0 else regular, 8, widths[index]))
                else:
                    shown.append(Paragraph(pdf_text(value), cell))
            data.append(shown)
            style.append(("FONT", (0, number), (0, number), bold, 8, 10))
            if case.late_addition or needs_reconfirming(case):
                style.append(("TEXTCOLOR", (0, number), (0, number), colors.darkred))
            if case.late_addition:
                style.append(("BACKGROUND", (0, number), (-1, number), colors.HexColor("#fff4d6")))
        table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        table.setStyle(TableStyle(style))
        note = table_note(agenda)
        return [table, *([Spacer(1, 2 * mm), Paragraph(pdf_text(note), cell)] if note else []), *overflow]

    story: list[Any] = [
        Paragraph(pdf_text(agenda.marking), marking),
        Paragraph(pdf_text(agenda.title), title),
        Paragraph(pdf_text(agenda.intended_use), intended),
    ]
    if agenda.rules_line:
        story.append(Paragraph(pdf_text(agenda.rules_line), intended))
    header = [
        [Paragraph(pdf_text(name), label), Paragraph(pdf_text(text), warning if name == "Quorum" and alarm else body)]
        for name, text in meeting_details(agenda)
    ]
    layout = Table(header, colWidths=[38 * mm, 200 * mm], hAlign="LEFT")  # no grid: the case table is the table
    layout.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    story.append(layout)
    caption = "Outcomes" if agenda.outcomes else "Cases"
    story.append(Paragraph(f"{caption} ({len(agenda.cases)})", heading))
    story += listing()
    if not agenda.outcomes and agenda.cases:
        story += [NextPageTemplate(PORTRAIT), PageBreak()]
    for case in () if agenda.outcomes else agenda.cases:
        heading_row = Paragraph(pdf_text(case_heading(case)), heading)
        story.append(KeepTogether([heading_row, *grid(_case_rows(case, agenda))]))
        story.append(Spacer(1, 4 * mm))
    return a4_pdf_oriented(
        story,
        numbered_canvas(agenda.marking, regular, agenda.intended_use),
        margins_mm=(18, 18, 18, 20),
        first=LANDSCAPE,
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
