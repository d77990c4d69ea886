"""Outcome letters as Word and PDF files (A4, the letter's confidentiality marking on every page, page numbers).

A letter goes to the referrer, so it carries `Letter.marking` (patient-identifiable, no "do not forward outside
the MDT"); what it says, the intended-use statement and the signature included, comes from its template.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from triage_app.domain.letters import Letter
from triage_app.exporters.pages import (
    a4_pages,
    a4_pdf,
    header_footer,
    numbered_canvas,
    pdf_text,
    register_fonts,
    xml_text,
)

LETTER_FORMATS = ("docx", "pdf")


def letter_docx(letter: Letter) -> bytes:
    """The letter as a Word document."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    a4_pages(document)
    document.styles["Normal"].font.size = Pt(11)
    header_footer(document, letter.marking)
    document.add_heading(xml_text(letter.title), level=1)
    for paragraph in letter.paragraphs:
        document.add_paragraph(xml_text(paragraph))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def letter_pdf(letter: Letter, *, font_dir: Path) -> bytes:
    """The letter as a PDF."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph

    regular, bold = register_fonts(font_dir)
    body = ParagraphStyle("letter", fontName=regular, fontSize=10.5, leading=14, spaceAfter=8)
    title = ParagraphStyle("letter-title", fontName=bold, fontSize=14, leading=18, spaceAfter=12)
    story: list[Any] = [Paragraph(pdf_text(letter.title), title)]
    story += [Paragraph(pdf_text(p), body) for p in letter.paragraphs]
    return a4_pdf(story, numbered_canvas(letter.marking, regular), margins_mm=(22, 22, 22, 22), title=letter.title)


def export_letter(letter: Letter, fmt: str, *, font_dir: Path) -> bytes:
    """The letter in one of LETTER_FORMATS."""
    if fmt == "docx":
        return letter_docx(letter)
    if fmt == "pdf":
        return letter_pdf(letter, font_dir=font_dir)
    raise ValueError(f"'{fmt}' is not a letter format: {', '.join(LETTER_FORMATS)}")
