"""Reading exported files back as a person would see them: PDF text (pypdf, pdftotext), Word text
(python-docx, body, tables, header and footer)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from docx import Document
from pypdf import PdfReader

from triage_app.domain.intended_use import INTENDED_USE_LINE

FURNITURE = re.compile(r"^(CONFIDENTIAL: .*|Confidential: .*|Pseudonymised: .*|Page \d+ of \d+|.* · continued)$")


def _is_furniture(line: str) -> bool:
    """The marking, the page number and the intended-use footer: the same on every page."""
    text = line.strip()
    return bool(FURNITURE.match(text)) or (len(text) >= 20 and text in INTENDED_USE_LINE)


def pdf_pages(path: Path) -> list[str]:
    """The text of each page as pypdf extracts it, furniture included."""
    return [page.extract_text() or "" for page in PdfReader(path).pages]


def pdf_text_of(path: Path) -> str:
    """The text of every page, without the page furniture (marking, page number, intended use) between pages."""
    lines = [line for page in pdf_pages(path) for line in page.splitlines() if not _is_furniture(line)]
    return "\n".join(lines)


def poppler_text(path: Path) -> str | None:
    """The text pdftotext (poppler) reads, or None where poppler is not installed."""
    if not shutil.which("pdftotext"):
        return None
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def docx_text(path: Path) -> str:
    """The body paragraphs of a Word document."""
    return "\n".join(p.text for p in Document(str(path)).paragraphs)


def docx_everything(path: Path) -> str:
    """Body paragraphs, table cells, header and footer of a Word document."""
    document = Document(str(path))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            texts.extend(cell.text for cell in row.cells)
    for section in document.sections:
        texts.extend(p.text for p in section.header.paragraphs)
        texts.extend(p.text for p in section.footer.paragraphs)
    return "\n".join(texts)


def squash(text: str) -> str:
    """Without white space (PDF lines wrap anywhere) and case-folded (family names are shown in capitals)."""
    return re.sub(r"\s+", "", text).casefold()
