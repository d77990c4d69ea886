"""Build resources/templates/outcome_letter.docx, the example outcome-letter template a unit replaces.

    python3 resources/templates/make_outcome_letter.py

A unit opens the .docx in Word and puts in its own letterhead, logo, address and wording; the placeholders
({{ name }}) are listed in the README. This script only makes the shipped example reproducible.
"""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

HERE = Path(__file__).resolve().parent
TEAL = RGBColor(0x00, 0x5E, 0xB8)


def logo_png() -> bytes:
    """An invented unit logo (a rounded square with the unit's initials); a unit puts its own."""
    from PIL import Image, ImageDraw, ImageFont

    size = 240
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8, 8, size - 8, size - 8), radius=36, fill=(0, 94, 184))
    font_path = HERE.parent / "fonts" / "DejaVuSans-Bold.ttf"
    font = ImageFont.truetype(str(font_path), 84)
    draw.text((size / 2, size / 2 - 14), "SNU", font=font, fill="white", anchor="mm")
    small = ImageFont.truetype(str(font_path), 30)
    draw.text((size / 2, size / 2 + 60), "SPD MDT", font=small, fill="white", anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def field(paragraph, instruction: str) -> None:  # type: ignore[no-untyped-def]
    """A Word field (PAGE, NUMPAGES) in `paragraph`."""
    simple = OxmlElement("w:fldSimple")
    simple.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "16")  # 8 points, as the words around it
    properties.append(size)
    run.append(properties)
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    simple.append(run)
    paragraph._p.append(simple)


def no_borders(table) -> None:  # type: ignore[no-untyped-def]
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    table._tbl.tblPr.append(borders)


def build() -> bytes:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(22)
    section.top_margin, section.bottom_margin = Mm(45), Mm(25)
    section.header_distance, section.footer_distance = Mm(10), Mm(10)
    normal = document.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(11)
    normal.paragraph_format.space_after = Pt(6)

    # Letterhead on the first page (Word's "different first page"): the unit's logo left, its name and address
    # right (a unit replaces both in Word); later pages carry a slim running header.
    section.different_first_page_header_footer = True
    running = section.header.paragraphs[0]
    running.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    running.add_run("NHS number {{ nhs_number }} · continued").font.size = Pt(8)
    header = section.first_page_header
    head = header.add_table(rows=1, cols=2, width=Mm(166))
    no_borders(head)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    head.columns[0].width = head.rows[0].cells[0].width = Mm(30)
    head.columns[1].width = head.rows[0].cells[1].width = Mm(136)
    head.rows[0].cells[0].paragraphs[0].add_run().add_picture(io.BytesIO(logo_png()), width=Mm(22))
    lines = [
        ("Specialist Neurosurgical Unit", True, 13),
        ("Selective Peripheral Denervation MDT", False, 10),
        ("Example Hospital, 1 Example Road, Exampletown EX1 2MP", False, 9),
        ("MDT coordinator: 01632 960000 · spd.mdt@example.nhs.uk", False, 9),
    ]
    cell = head.rows[0].cells[1]
    for number, (text, bold, size) in enumerate(lines):
        paragraph = cell.paragraphs[0] if number == 0 else cell.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        paragraph.paragraph_format.space_after = Pt(0)
        run = paragraph.add_run(text)
        run.bold, run.font.size = bold, Pt(size)
        if bold:
            run.font.color.rgb = TEAL
    header.paragraphs[0].text = ""

    # Footer: the letter's marking and its page numbers on every page, the first included.
    for footer in (section.footer, section.first_page_footer):
        marking = footer.paragraphs[0]
        marking.alignment = WD_ALIGN_PARAGRAPH.CENTER
        marking.paragraph_format.space_after = Pt(0)
        marking.add_run("{{ marking }}").font.size = Pt(8)
        pages = footer.add_paragraph()
        pages.alignment = WD_ALIGN_PARAGRAPH.CENTER
        pages.paragraph_format.space_after = Pt(0)
        pages.add_run("Page ").font.size = Pt(8)
        field(pages, "PAGE")
        pages.add_run(" of ").font.size = Pt(8)
        field(pages, "NUMPAGES")

    # The body. Placeholders are filled as plain text: a referral's wording is never run as a template.
    def para(text: str = "", *, bold: bool = False, size: int | None = None, after: int | None = None, align=None):  # type: ignore[no-untyped-def]
        paragraph = document.add_paragraph()
        if text:
            run = paragraph.add_run(text)
            run.bold = bold
            if size:
                run.font.size = Pt(size)
        if after is not None:
            paragraph.paragraph_format.space_after = Pt(after)
        if align is not None:
            paragraph.alignment = align
        return paragraph

    para("Private and confidential", bold=True, size=9, after=2)
    para("{{ referrer_name }}", after=0)
    para("{{ referrer_address }}", after=12)
    para("{{ today }}", align=WD_ALIGN_PARAGRAPH.RIGHT, after=12)
    para("Dear {{ referrer_name }},", after=10)
    para("Re: {{ patient_name }}", bold=True, after=0)
    para(
        "NHS number {{ nhs_number }} · Date of birth {{ date_of_birth }} · Hospital number {{ hospital_number }}",
        bold=True,
        size=10,
        after=10,
    )
    para(
        "Thank you for referring this patient to the {{ unit_name }} for consideration of selective peripheral "
        "denervation for cervical dystonia. The referral was discussed at our multidisciplinary team meeting on "
        "{{ meeting_date }}, with the following outcome."
    )
    table = document.add_table(rows=3, cols=2)
    table.style = "Table Grid"
    for row, (label, value) in enumerate(
        (("Outcome", "{{ outcome }}"), ("Reasons", "{{ rationale }}"), ("Agreed actions", "{{ actions }}"))
    ):
        cells = table.rows[row].cells
        cells[0].width, cells[1].width = Mm(38), Mm(128)
        cells[0].paragraphs[0].add_run(label).bold = True
        cells[1].paragraphs[0].add_run(value)
    para("", after=4)
    para("Please contact the MDT coordinator on the number above if you have any questions.")
    para("{{ intended_use }} {{ rules_line }}", size=8, after=12)
    para("Yours sincerely,", after=30)
    para("{{ signatory_name }}", bold=True, after=0)
    para("{{ signatory_role }}", after=0)
    para("Selective Peripheral Denervation MDT", after=16)
    para("{%p if cc_gp %}")
    cc = document.add_table(rows=1, cols=2)
    no_borders(cc)
    cc.rows[0].cells[0].width, cc.rows[0].cells[1].width = Mm(12), Mm(154)
    cc.rows[0].cells[0].paragraphs[0].add_run("cc:").font.size = Pt(10)
    cc.rows[0].cells[1].paragraphs[0].add_run("{{ cc_gp }}").font.size = Pt(10)
    para("{%p endif %}")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


if __name__ == "__main__":
    target = HERE / "outcome_letter.docx"
    target.write_bytes(build())
    print(f"wrote {target}")
