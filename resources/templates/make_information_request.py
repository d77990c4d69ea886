"""Build resources/templates/information_request.docx, the example request-for-information template a unit replaces.

    python3 resources/templates/make_information_request.py

It takes the outcome letter's example (its letterhead, running header and footer with the marking and page
numbers) and writes the request's own body. Placeholders: today, referrer_name, referrer_address, unit_name,
patient_name, nhs_number, date_of_birth, hospital_number, received_on, awaited (one line each), reply_by,
intended_use, signatory_name, signatory_role, marking.
"""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

HERE = Path(__file__).resolve().parent


def build() -> bytes:
    document = Document(str(HERE / "outcome_letter.docx"))
    body = document.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)

    def para(text: str, *, bold: bool = False, size: int | None = None, after: int | None = None, align=None):  # type: ignore[no-untyped-def]
        paragraph = document.add_paragraph()
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
        "Thank you for your referral, received on {{ received_on }}, to the {{ unit_name }}. Before the "
        "multidisciplinary team can consider it, we need some further information, which the referral did not "
        "include. Please send:"
    )
    para("{{ awaited }}", after=10)
    para("The referral is on hold until we receive it. {{ reply_by }}")
    para("Please contact the MDT coordinator on the number above if you have any questions.")
    para("{{ intended_use }}", size=8, after=12)
    para("Yours sincerely,", after=30)
    para("{{ signatory_name }}", bold=True, after=0)
    para("{{ signatory_role }}", after=0)
    para("Selective Peripheral Denervation MDT", after=16)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


if __name__ == "__main__":
    target = HERE / "information_request.docx"
    target.write_bytes(build())
    print(f"wrote {target}")
