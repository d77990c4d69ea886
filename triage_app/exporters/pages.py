"""Page furniture shared by every Word and PDF the app writes (agendas, outcome summaries, letters): A4 pages,
the marking in the header, page numbers and a note in the footer, the fonts, and text made safe for each format.

Split from exporters.agenda, so the letters writer uses it without reaching into the agenda's private helpers.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import Any

_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    """Text Word can store: characters that XML 1.0 forbids are dropped."""
    return _XML_FORBIDDEN.sub("", value)


def page_number_field(paragraph: Any) -> None:
    """Insert Word's PAGE field, so every page shows its number."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind is not None:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._r.append(element)


def a4_pages(document: Any) -> None:
    from docx.shared import Mm

    for section in document.sections:
        section.page_height, section.page_width = Mm(297), Mm(210)
        section.left_margin = section.right_margin = Mm(18)
        section.top_margin = section.bottom_margin = Mm(18)


def header_footer(document: Any, marking: str, note: str | None = None) -> None:
    """The marking in the header; the page number in the footer, under `note` (small) when there is one."""
    from docx.shared import Pt

    section = document.sections[0]
    header = section.header.paragraphs[0]
    header.text = xml_text(marking)
    footer = section.footer.paragraphs[0]
    if note:
        footer.add_run(xml_text(note)).font.size = Pt(7.5)
        footer = section.footer.add_paragraph()
    footer.add_run("Page ")
    page_number_field(footer)


def keep_with_next(paragraph: Any) -> None:
    """Keep the paragraph on the page of the next one, and its lines together (w:keepNext, w:keepLines).

    Written into the paragraph's properties directly: python-docx's setters find each element's place in the
    schema's order every time, which cost half a second on a 40-case agenda. Both follow w:pStyle, keepNext first.
    """
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = paragraph._p.get_or_add_pPr()
    style = properties.find(qn("w:pStyle"))
    for name in ("w:keepLines", "w:keepNext"):  # each put first (after the style): keepNext ends up before keepLines
        if properties.find(qn(name)) is None:
            element = OxmlElement(name)
            if style is not None:
                style.addnext(element)
            else:
                properties.insert(0, element)


_FONTS_READY = False


def register_fonts(font_dir: Path) -> tuple[str, str]:
    """DejaVu Sans (shipped in resources/fonts) covers Latin, Greek, Cyrillic and more; Helvetica does not."""
    global _FONTS_READY
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if not _FONTS_READY:
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(font_dir / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(font_dir / "DejaVuSans-Bold.ttf")))
        _FONTS_READY = True
    return "DejaVuSans", "DejaVuSans-Bold"


def pdf_text(value: str) -> str:
    """Text for a reportlab Paragraph: its mini-markup escaped, so <img> or <a> are shown, never acted on."""
    return escape(xml_text(value), quote=False).replace("\n", "<br/>")


FOOTER_MARGIN = 18  # mm either side of a footer note
NOTE_SIZES = (7.0, 6.75, 6.5)  # points: a note takes the largest that fits on one line, else wraps at the last


def footer_note_lines(note: str, font: str) -> tuple[float, list[str]]:
    """The font size and lines of a footer note: one line if a slightly smaller size fits, else wrapped."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import stringWidth

    width = A4[0] - 2 * FOOTER_MARGIN * 2.835
    for size in NOTE_SIZES:
        if stringWidth(note, font, size) <= width:
            return size, [note]
    return NOTE_SIZES[-1], simpleSplit(note, font, NOTE_SIZES[-1], width)


def numbered_canvas(marking: str, font: str, note: str | None = None) -> Any:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    size, note_lines = footer_note_lines(note, font) if note else (0.0, [])

    class NumberedCanvas(canvas.Canvas):  # type: ignore[misc]
        """Draws "Page N of M", the marking and any note on every page once the page count is known."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(font, 8)
                width, height = getattr(self, "_pagesize", None) or A4  # a landscape page is wider
                self.drawCentredString(width / 2, 8 * 2.835, f"Page {self._pageNumber} of {total}")
                self.drawCentredString(width / 2, height - 10 * 2.835, marking)
                self.setFont(font, size or 8)
                for number, line in enumerate(reversed(note_lines)):
                    self.drawCentredString(width / 2, 12 * 2.835 + number * (size + 1.5), line)
                super().showPage()
            super().save()

    return NumberedCanvas


def a4_pdf(story: list[Any], canvasmaker: Any, *, margins_mm: tuple[int, int, int, int], **info: str) -> bytes:
    """The story built as an A4 PDF with these margins (left, right, top, bottom, in millimetres) and pages drawn
    by `canvasmaker` (`numbered_canvas`); `info` is the document's title, author and subject (reportlab's names)."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    left, right, top, bottom = margins_mm
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=left * mm,
        rightMargin=right * mm,
        topMargin=top * mm,
        bottomMargin=bottom * mm,
        **info,
    )
    document.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()


LANDSCAPE = "landscape"
PORTRAIT = "portrait"


def a4_pdf_oriented(
    story: list[Any], canvasmaker: Any, *, margins_mm: tuple[int, int, int, int], first: str = LANDSCAPE, **info: str
) -> bytes:
    """Like `a4_pdf`, with A4 pages of both orientations: the story starts on `first` (LANDSCAPE or PORTRAIT) and a
    `NextPageTemplate(PORTRAIT)` (or LANDSCAPE) in it turns the pages that follow, as a wide table needs."""
    import io

    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    left, right, top, bottom = margins_mm

    def template(name: str, size: tuple[float, float]) -> PageTemplate:
        frame = Frame(
            left * mm,
            bottom * mm,
            size[0] - (left + right) * mm,
            size[1] - (top + bottom) * mm,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id=name,
        )
        return PageTemplate(id=name, frames=[frame], pagesize=size)

    templates = {LANDSCAPE: template(LANDSCAPE, landscape(A4)), PORTRAIT: template(PORTRAIT, A4)}
    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer,
        pagesize=templates[first].pagesize,
        leftMargin=left * mm,
        rightMargin=right * mm,
        topMargin=top * mm,
        bottomMargin=bottom * mm,
        pageTemplates=[templates[first], *(t for name, t in templates.items() if name != first)],
        **info,
    )
    document.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()


def turn_section(section: Any, orientation: str) -> None:
    """Make a Word section A4 LANDSCAPE or PORTRAIT (its page size swapped to match)."""
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm

    wide = orientation == LANDSCAPE
    section.orientation = WD_ORIENT.LANDSCAPE if wide else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (Mm(297), Mm(210)) if wide else (Mm(210), Mm(297))


def repeat_header_row(row: Any) -> None:
    """A Word table row repeated at the top of every page the table runs onto."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = row._tr.get_or_add_trPr()
    element = OxmlElement("w:tblHeader")
    element.set(qn("w:val"), "true")
    properties.append(element)


def column_widths(table: Any, widths_mm: tuple[float, ...]) -> None:
    """Fixed column widths for a Word table (Word otherwise shares the width out evenly). Call it before adding
    rows: each row added after takes its cells' widths from the table's grid, so no cell is visited twice."""
    from docx.shared import Mm

    table.autofit = False
    for index, width in enumerate(widths_mm):
        table.columns[index].width = Mm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm, strict=False):
            cell.width = Mm(width)
