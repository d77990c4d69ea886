"""Letters from a Word (.docx) template a unit edits in Word: its letterhead, logo, address block and wording.

`load_word_template` reads and checks a template once; `render_docx(template, context)` fills a copy with
docxtpl (Jinja, autoescaping on, in a sandbox), so a referral's text ("{{7*7}}", "{% for %}", "<w:p>", "&") is
printed as written: it can neither run as a template nor break the document's XML. A text with line breaks (an
address) keeps them. Any letter can use it: the outcome letter (services.exports) and, with its own template and
context, a request for information.

`letters_pdf` draws filled letters as one PDF with reportlab, walking each document's paragraphs, tables,
header (with its images) and footer, so the PDF says what the Word file says; page numbers restart with each
letter ("Page 1 of 2" in the footer where the template puts its PAGE and NUMPAGES fields). No office suite is
needed, on any desktop.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Final

from triage_app.domain.letters import TemplateError
from triage_app.exporters.pages import register_fonts, xml_text

DOCX_SUFFIX: Final = ".docx"

#: Stand-ins for the PAGE and NUMPAGES fields of a footer, replaced page by page (private-use characters).
PAGE_MARK: Final = "\ue000"
PAGES_MARK: Final = "\ue001"

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
_EMU_PER_POINT = 12_700


@dataclass(frozen=True, slots=True)
class WordTemplate:
    """A checked Word template: its name (for messages), its bytes and the placeholders it uses."""

    source: str
    data: bytes
    variables: frozenset[str]


def _environment() -> Any:
    """Jinja as letters use it: autoescaping on (values are XML-escaped), sandboxed, undefined names refused."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def load_word_template(path: Path) -> WordTemplate:
    """Read the Word template at `path`; `TemplateError` (naming the file) if it cannot be read, is not a .docx
    file, or its placeholders are not valid template syntax."""
    if path.suffix.lower() != DOCX_SUFFIX:
        raise TemplateError(
            f"{path.name} is not a Word (.docx) template: open it in Word and save it as a Word Document (.docx)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read the letter template {path} ({exc.strerror or exc})") from exc
    return read_word_template(data, path.name)


def read_word_template(data: bytes, source: str) -> WordTemplate:
    """A template from its bytes (see `load_word_template`); `source` names it in messages.

    A template without `{{ marking }}` gets it in the footer of every section, so every page of every letter
    carries its marking (safety.md) whatever the unit's design.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.getinfo("word/document.xml")
    except (zipfile.BadZipFile, KeyError) as exc:
        raise TemplateError(
            f"{source} is not a Word (.docx) document (it may be an older .doc, or damaged): open it in Word and "
            "save it as a Word Document (.docx)"
        ) from exc
    variables = _variables(data, source)
    if "marking" not in variables:
        data = _with_marking_footer(data)
        variables = variables | {"marking"}
    return WordTemplate(source, data, frozenset(variables))


def _variables(data: bytes, source: str) -> set[str]:
    from docxtpl import DocxTemplate
    from jinja2 import TemplateError as JinjaError

    try:
        return set(DocxTemplate(io.BytesIO(data)).get_undeclared_template_variables(_environment()))
    except JinjaError as exc:
        number = getattr(exc, "lineno", None)  # syntax errors carry it
        line = f" (line {number})" if number else ""
        raise TemplateError(
            f"{source}: a placeholder is not written correctly{line}: {exc.message or exc}. Placeholders are "
            "written {{ name }}"
        ) from exc
    except Exception as exc:  # docxtpl reads the XML first: a damaged part raises lxml's or zipfile's errors
        raise TemplateError(f"{source} cannot be read as a Word document ({exc})") from exc


def _with_marking_footer(data: bytes) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    document = Document(io.BytesIO(data))
    for section in document.sections:
        paragraph = section.footer.add_paragraph("{{ marking }}")
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def check_placeholders(template: WordTemplate, required: Iterable[tuple[str, ...]], known: Collection[str]) -> None:
    """Refuse a template that leaves out a required placeholder (each entry met by any one of its names) or uses
    one the letter does not fill (a typing slip would print nothing), naming every one."""
    problems = []
    missing = [group[0] for group in required if not template.variables & set(group)]
    if missing:
        problems.append(
            "it leaves out what every letter must say: " + ", ".join("{{ " + name + " }}" for name in missing)
        )
    unknown = sorted(template.variables - set(known))
    if unknown:
        problems.append(
            "it uses placeholders the letter does not fill: "
            + ", ".join("{{ " + name + " }}" for name in unknown)
            + f" (known: {', '.join(sorted(known))})"
        )
    if problems:
        raise TemplateError(f"the letter template {template.source} cannot be used: " + "; ".join(problems))


def render_docx(template: WordTemplate | Path, context: Mapping[str, Any]) -> bytes:
    """The template filled with `context`, as a Word document's bytes.

    Text is escaped (autoescaping) and never evaluated; a string with line breaks keeps them in Word. Names the
    template uses but `context` lacks are refused (`TemplateError`), never printed blank. The template is
    prepared once (docxtpl's clean-up of Word's runs, Jinja compiled) and each letter fills a copy, so a meeting's
    forty letters take well under a second.
    """
    from docxtpl import Listing
    from jinja2 import TemplateError as JinjaError
    from lxml import etree

    if isinstance(template, Path):
        template = load_word_template(template)
    absent = sorted(template.variables - context.keys())
    if absent:
        raise TemplateError(f"the letter template {template.source} needs {', '.join(absent)}, which it was not given")
    values = {
        key: Listing(xml_text(value)) if isinstance(value, str) and "\n" in value else _clean(value)
        for key, value in context.items()
    }
    prepared = _prepared(template)
    rendered: dict[str, bytes] = {}
    for name, compiled in prepared.parts:
        try:
            xml = compiled.render(values)
        except JinjaError as exc:
            raise TemplateError(f"the letter template {template.source} could not be filled: {exc}") from exc
        xml = _after_render(xml)
        try:  # a filled part that is not well-formed XML would be a letter Word refuses: never written
            etree.fromstring(xml.encode("utf-8"))
        except etree.XMLSyntaxError as exc:
            raise TemplateError(f"the letter template {template.source} made a damaged document ({exc})") from exc
        rendered[name] = (_XML_DECLARATION + xml).encode("utf-8")
    buffer = io.BytesIO(prepared.static)  # every part that takes no placeholder, compressed once
    with zipfile.ZipFile(buffer, "a") as target:
        for name, data in rendered.items():
            target.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
    return buffer.getvalue()


_XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A template ready to fill: each part with placeholders (the document, headers, footers) as compiled Jinja."""

    parts: tuple[tuple[str, Any], ...]  # (name in the .docx archive, jinja Template)
    static: bytes  # the .docx archive without those parts


_PREPARED: dict[bytes, _Prepared] = {}


def _prepared(template: WordTemplate) -> _Prepared:
    """docxtpl's clean-up of the template's XML (a placeholder Word split across runs made whole again) and its
    Jinja, done once per template (by content) and kept."""
    import hashlib

    from docxtpl import DocxTemplate

    key = hashlib.sha256(template.data).digest()
    found = _PREPARED.get(key)
    if found is not None:
        return found
    document = DocxTemplate(io.BytesIO(template.data))
    document.render_init()
    environment = _environment()
    sources = [(document.docx.part.partname, document.xml_to_string(document.docx.element))]
    for uri in (document.HEADER_URI, document.FOOTER_URI):
        for _key, part in document.get_headers_footers(uri):
            sources.append((part.partname, document.get_part_xml(part)))
    parts = []
    for partname, xml in sources:
        if "{" not in xml:
            continue
        xml = re.sub(r"<w:p([ >])", r"\n<w:p\1", document.patch_xml(xml))
        xml = re.sub(r"^<\?xml[^>]*\?>\s*", "", xml)
        parts.append((str(partname).lstrip("/"), environment.from_string(xml)))
    filled = {name for name, _compiled in parts}
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template.data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            if info.filename not in filled:
                target.writestr(info, source.read(info), compress_type=info.compress_type)
    prepared = _Prepared(tuple(parts), buffer.getvalue())
    if len(_PREPARED) > 16:
        _PREPARED.clear()
    _PREPARED[key] = prepared
    return prepared


def _after_render(xml: str) -> str:
    """What docxtpl does to a rendered part: its own paragraph markers undone, escaped braces restored and a
    line break in a text (an address) made a Word line break."""
    from docxtpl import DocxTemplate

    xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", xml)
    xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
    return str(DocxTemplate.resolve_listing(None, xml))  # it reads nothing of the template


def _clean(value: Any) -> Any:
    """Strings without characters XML cannot hold (a stray control character would make Word refuse the file)."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


# --- PDF ----------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Letter:
    """One filled letter as reportlab draws it."""

    body: list[Any]
    header: list[Any]
    footer: list[tuple[str, Any]]  # (markup with page tokens, style)
    first_header: list[Any]  # the first page's (Word's "different first page": a letterhead), else as above
    first_footer: list[tuple[str, Any]]
    page: tuple[float, float]
    margins: tuple[float, float, float, float]  # left, right, top, bottom in points
    header_distance: float
    footer_distance: float


class _Reader:
    """Turns a python-docx document's paragraphs and tables into reportlab flowables.

    Styles are read from the styles part's XML once per style (python-docx's own look-ups are slow enough that
    a meeting's letters would take seconds), following `basedOn` to the document defaults.
    """

    def __init__(self, styles: Any, fonts: tuple[str, str]) -> None:
        self.regular, self.bold = fonts
        self.styles = {style.get(f"{_W}styleId"): style for style in styles.iterchildren(f"{_W}style")}
        self.default_style = next(
            (
                style.get(f"{_W}styleId")
                for style in styles.iterchildren(f"{_W}style")
                if style.get(f"{_W}type") == "paragraph" and _on_attr(style.get(f"{_W}default"))
            ),
            None,
        )
        defaults = styles.find(f"{_W}docDefaults")
        self.defaults: dict[str, Any] = {"size": 11.0, "bold": False, "align": 0, "before": 0.0, "after": 0.0}
        if defaults is not None:
            self._apply(self.defaults, defaults.find(f"{_W}rPrDefault/{_W}rPr"))
            self._apply(self.defaults, defaults.find(f"{_W}pPrDefault/{_W}pPr"))
        self.cache: dict[tuple[str | None, bytes], Any] = {}

    def _apply(self, found: dict[str, Any], properties: Any) -> None:
        """Set what `properties` (a w:rPr or w:pPr) says: size, bold, alignment, space before and after."""
        if properties is None:
            return
        if properties.tag == f"{_W}pPr":
            justify = properties.find(f"{_W}jc")
            if justify is not None:
                found["align"] = _ALIGN.get(justify.get(f"{_W}val", "left"), 0)
            spacing = properties.find(f"{_W}spacing")
            if spacing is not None:
                for key, attribute in (("before", "before"), ("after", "after")):
                    value = spacing.get(f"{_W}{attribute}")
                    if value is not None and value.lstrip("-").isdigit():
                        found[key] = int(value) / 20
            self._apply(found, properties.find(f"{_W}rPr"))
            return
        size = properties.find(f"{_W}sz")
        if size is not None and size.get(f"{_W}val", "").isdigit():
            found["size"] = int(size.get(f"{_W}val")) / 2
        bold = properties.find(f"{_W}b")
        if bold is not None:
            found["bold"] = _on(bold)

    def _style(self, style_id: str | None) -> dict[str, Any]:
        chain = []
        seen = set()
        current = style_id if style_id in self.styles else self.default_style
        while current is not None and current in self.styles and current not in seen:
            seen.add(current)
            chain.append(self.styles[current])
            based = self.styles[current].find(f"{_W}basedOn")
            current = based.get(f"{_W}val") if based is not None else None
        found = dict(self.defaults)
        for style in reversed(chain):
            self._apply(found, style.find(f"{_W}pPr"))
            self._apply(found, style.find(f"{_W}rPr"))
        return found

    def paragraph_style(self, paragraph_element: Any) -> Any:
        """The reportlab style of a w:p: its style's font size, weight, alignment and spacing, with its own
        paragraph properties over them."""
        from lxml import etree
        from reportlab.lib.styles import ParagraphStyle

        properties = paragraph_element.find(f"{_W}pPr")
        style_element = properties.find(f"{_W}pStyle") if properties is not None else None
        style_id = style_element.get(f"{_W}val") if style_element is not None else None
        key = (style_id, etree.tostring(properties) if properties is not None else b"")
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        found = self._style(style_id)
        self._apply(found, properties)
        size = float(found["size"])
        style = ParagraphStyle(
            "docx",
            fontName=self.bold if found["bold"] else self.regular,
            fontSize=size,
            leading=size * 1.25,
            alignment=found["align"],
            spaceBefore=found["before"],
            spaceAfter=found["after"],
        )
        self.cache[key] = style
        return style

    def markup(self, paragraph_element: Any, part: Any) -> tuple[str, list[Any]]:
        """The paragraph's text as reportlab markup (bold, italic, underline, breaks, page fields), and its images."""
        pieces: list[str] = []
        images: list[Any] = []
        field: list[str] = []  # instruction text of a complex field being read
        state = "text"  # text | instruction | result (a field's old result, skipped)
        for element in paragraph_element.iter():
            tag = element.tag
            if tag == f"{_W}fldSimple":  # the number takes the look of the field's own run
                token = _field_token(element.get(f"{_W}instr", ""))
                pieces.append(self._run_markup(element.find(f"{_W}r"), token) if token else "")
            elif tag == f"{_W}fldChar":
                kind = element.get(f"{_W}fldCharType")
                if kind == "begin":
                    state, field = "instruction", []
                elif kind == "separate":
                    token = _field_token(" ".join(field))
                    pieces.append(self._run_markup(element.getparent(), token) if token else "")
                    state = "result"
                elif kind == "end":
                    if state == "instruction":
                        pieces.append(_field_token(" ".join(field)))
                    state = "text"
            elif tag == f"{_W}instrText" and state == "instruction":
                field.append(element.text or "")
            elif tag == f"{_W}t" and state == "text" and not _in_simple_field(element):
                pieces.append(self._run_markup(element.getparent(), element.text or ""))
            elif tag == f"{_W}br" and state == "text":
                pieces.append("<br/>")
            elif tag == f"{_W}tab" and state == "text" and element.getparent().tag == f"{_W}r":
                pieces.append("&nbsp;&nbsp;&nbsp;&nbsp;")
            elif tag == f"{_W}drawing":
                image = self._image(element, part)
                if image is not None:
                    images.append(image)
        return "".join(pieces), images

    def _run_markup(self, run: Any, text: str) -> str:
        if not text:
            return ""
        out = escape(text, quote=False)
        properties = run.find(f"{_W}rPr") if run is not None else None
        if properties is not None:
            if _on(properties.find(f"{_W}b")):
                out = f"<b>{out}</b>"
            if _on(properties.find(f"{_W}i")):
                out = f"<i>{out}</i>"
            underline = properties.find(f"{_W}u")
            if underline is not None and underline.get(f"{_W}val", "single") != "none":
                out = f"<u>{out}</u>"
            size = properties.find(f"{_W}sz")
            if size is not None and size.get(f"{_W}val", "").isdigit():
                out = f'<font size="{int(size.get(f"{_W}val")) / 2:g}">{out}</font>'
            colour = properties.find(f"{_W}color")
            if colour is not None and len(colour.get(f"{_W}val", "")) == 6:
                out = f'<font color="#{colour.get(f"{_W}val")}">{out}</font>'
        return out

    def _image(self, drawing: Any, part: _Part) -> Any:
        from reportlab.platypus import Image

        blip = next(drawing.iter(f"{_A}blip"), None)
        extent = next(drawing.iter(f"{_WP}extent"), None)
        if blip is None or extent is None:
            return None
        blob = part.related(blip.get(f"{_R}embed", ""))
        if blob is None:
            return None
        width = int(extent.get("cx", "0")) / _EMU_PER_POINT
        height = int(extent.get("cy", "0")) / _EMU_PER_POINT
        return Image(io.BytesIO(blob), width=width, height=height)

    def flowables(self, container: Any, part: _Part, width: float) -> list[Any]:
        """The paragraphs and tables of a body, header, footer or table cell, in document order."""
        from reportlab.platypus import Paragraph, Spacer

        out: list[Any] = []
        for child in container.iterchildren():
            if child.tag == f"{_W}p":
                style = self.paragraph_style(child)
                text, images = self.markup(child, part)
                for image in images:
                    image.hAlign = {1: "CENTER", 2: "RIGHT"}.get(style.alignment, "LEFT")
                    out.append(image)
                if text.strip():
                    out.append(Paragraph(text, style))
                elif not images:
                    out.append(Spacer(1, style.leading + style.spaceAfter))
            elif child.tag == f"{_W}tbl":
                table = self.table(child, part, width)
                if isinstance(table, _Flattened):
                    out.extend(table)
                else:
                    out.append(table)
        return out

    def table(self, table: Any, part: _Part, width: float) -> Any:
        """A w:tbl as a reportlab table: its columns' widths (the grid, else the first row's cells), its cells'
        paragraphs, a grid where Word draws borders."""
        from reportlab.lib import colors
        from reportlab.platypus import Table, TableStyle

        grid = [_twips(col.get(f"{_W}w")) for col in table.iter(f"{_W}gridCol")]
        first = next(table.iterchildren(f"{_W}tr"), None)
        if first is not None:
            cells: list[Any] = [next(cell.iter(f"{_W}tcW"), None) for cell in first.iterchildren(f"{_W}tc")]
            if cells and all(c is not None and c.get(f"{_W}type", "dxa") == "dxa" for c in cells):
                grid = [_twips(c.get(f"{_W}w")) for c in cells]
        total = sum(grid) or width
        widths = [w * min(1.0, width / total) for w in grid] if grid and all(grid) else None
        rows = []
        for row in table.iterchildren(f"{_W}tr"):
            cells_out = []
            for number, cell in enumerate(row.iterchildren(f"{_W}tc")):
                cell_width = widths[number] if widths and number < len(widths) else width / 2
                cells_out.append(self.flowables(cell, part, cell_width - 12))
            rows.append(cells_out)
        columns = max((len(row) for row in rows), default=1)
        rows = [row + [[]] * (columns - len(row)) for row in rows]
        if any(
            _height(cell, widths[n] - 12 if widths and n < len(widths) else width / 2) > _ROW_LIMIT
            for row in rows
            for n, cell in enumerate(row)
        ):
            # A row taller than a page cannot be split by reportlab: its cells follow one another instead,
            # every word still printed in the order Word shows it.
            return _Flattened([flowable for row in rows for cell in row for flowable in cell])
        result = Table(rows, colWidths=widths[:columns] if widths else None, hAlign="LEFT")
        commands: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
        if self._has_borders(table):
            commands.append(("GRID", (0, 0), (-1, -1), 0.5, colors.grey))
        result.setStyle(TableStyle(commands))
        return result

    def _has_borders(self, table: Any) -> bool:
        properties = table.find(f"{_W}tblPr")
        if properties is None:
            return False
        borders = properties.find(f"{_W}tblBorders")
        if borders is not None:
            return any(edge.get(f"{_W}val") not in ("nil", "none") for edge in borders)
        style = properties.find(f"{_W}tblStyle")
        definition = self.styles.get(style.get(f"{_W}val")) if style is not None else None
        if definition is None:
            return False
        name = definition.find(f"{_W}name")
        return definition.find(f".//{_W}tblBorders") is not None or (
            name is not None and "grid" in name.get(f"{_W}val", "").lower()
        )


_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


@dataclass(slots=True)
class _Part:
    """One part of a .docx archive (the document, a header, a footer) and what it links to (its images)."""

    archive: zipfile.ZipFile
    name: str  # word/document.xml
    links: dict[str, str] | None = None  # its relationships, read once

    def _rels(self) -> dict[str, str]:
        if self.links is None:
            self.links = self._read_rels()
        return self.links

    def _read_rels(self) -> dict[str, str]:
        folder, _, leaf = self.name.rpartition("/")
        try:
            rels = _xml(self.archive.read(f"{folder}/_rels/{leaf}.rels"))
        except KeyError:
            return {}
        return {
            rel.get("Id", ""): rel.get("Target", "")
            for rel in rels.iterchildren(f"{_RELS}Relationship")
            if rel.get("TargetMode") != "External"
        }

    def target(self, rel_id: str) -> str | None:
        """The archive name a relationship of this part points to."""
        target = self._rels().get(rel_id)
        if target is None:
            return None
        if target.startswith("/"):
            return target.lstrip("/")
        folder = self.name.rpartition("/")[0]
        parts: list[str] = folder.split("/") if folder else []
        for piece in target.split("/"):
            if piece == "..":
                parts = parts[:-1]
            elif piece not in ("", "."):
                parts.append(piece)
        return "/".join(parts)

    def related(self, rel_id: str) -> bytes | None:
        """The bytes of what a relationship points to (an image), or None."""
        name = self.target(rel_id)
        try:
            return None if name is None else self.archive.read(name)
        except KeyError:
            return None


#: Points: a table row taller than this is printed as its cells' paragraphs, one after another.
_ROW_LIMIT = 480.0


def _height(flowables: list[Any], width: float) -> float:
    return float(sum(flowable.wrap(width, 10_000)[1] for flowable in flowables))


class _Flattened(list[Any]):
    """A table's cells as plain flowables (a row too tall for a page)."""


def _xml(data: bytes) -> Any:
    from lxml import etree

    return etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, huge_tree=True))


def _twips(value: str | None) -> float:
    """A length in twentieths of a point (Word's dxa) as points; 0 when absent."""
    return int(value) / 20 if value is not None and value.lstrip("-").isdigit() else 0.0


#: Word's paragraph alignments as reportlab's (left, centre, right, justified).
_ALIGN = {"left": 0, "start": 0, "center": 1, "right": 2, "end": 2, "both": 4, "distribute": 4}


def _on_attr(value: str | None) -> bool:
    return value is not None and value not in ("0", "false", "off")


def _on(element: Any) -> bool:
    return element is not None and element.get(f"{_W}val", "true") not in ("0", "false", "none")


def _in_simple_field(element: Any) -> bool:
    parent = element.getparent()
    while parent is not None:
        if parent.tag == f"{_W}fldSimple":
            return True
        if parent.tag == f"{_W}p":
            return False
        parent = parent.getparent()
    return False


def _field_token(instruction: str) -> str:
    word = instruction.strip().split(" ")[0].upper() if instruction.strip() else ""
    return {"PAGE": PAGE_MARK, "NUMPAGES": PAGES_MARK, "SECTIONPAGES": PAGES_MARK}.get(word, "")


#: Style readers by styles part (every letter of a template shares one), kept between calls.
_READERS: dict[bytes, _Reader] = {}


def _read_letter(data: bytes, fonts: tuple[str, str], readers: dict[bytes, _Reader]) -> _Letter:
    """One filled letter's body, header and footer as flowables, read from the archive's XML (the first section's
    page size, margins and default header and footer); `readers` keeps one style reader per styles part."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    document = _Part(archive, "word/document.xml")
    root = _xml(archive.read(document.name))
    body = root.find(f"{_W}body")
    try:
        styles_data = archive.read("word/styles.xml")
    except KeyError:
        styles_data = b'<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>'
    reader = readers.get(styles_data)
    if reader is None:
        if len(readers) > 8:
            readers.clear()
        reader = readers[styles_data] = _Reader(_xml(styles_data), fonts)
    section = body.find(f".//{_W}sectPr") if body is not None else None
    size = section.find(f"{_W}pgSz") if section is not None else None
    margin = section.find(f"{_W}pgMar") if section is not None else None
    page = (
        (_twips(size.get(f"{_W}w")) or 595.3, _twips(size.get(f"{_W}h")) or 841.9)
        if size is not None
        else (595.3, 841.9)
    )

    def gap(name: str, default: float) -> float:
        value = _twips(margin.get(f"{_W}{name}")) if margin is not None else 0.0
        return value or default

    margins = (gap("left", 56.7), gap("right", 56.7), gap("top", 56.7), gap("bottom", 56.7))
    width = page[0] - margins[0] - margins[1]
    flowables = reader.flowables(body, document, width) if body is not None else []

    def furniture_part(kind: str, which: str) -> tuple[_Part, Any] | None:
        if section is None:
            return None
        chosen = next(
            (r for r in section.iterchildren(f"{_W}{kind}Reference") if r.get(f"{_W}type", "default") == which), None
        )
        name = document.target(chosen.get(f"{_R}id", "")) if chosen is not None else None
        if name is None:
            return None
        return _Part(archive, name), _xml(archive.read(name))

    def header(which: str) -> list[Any]:
        found = furniture_part("header", which)
        return [] if found is None else reader.flowables(found[1], found[0], width)

    def footer(which: str) -> list[tuple[str, Any]]:
        found = furniture_part("footer", which)
        lines = []
        for child in found[1].iterchildren(f"{_W}p") if found is not None else ():
            text, _images = reader.markup(child, found[0])  # type: ignore[index]
            if text.strip():
                lines.append((text, reader.paragraph_style(child)))
        return lines

    different_first = section is not None and _on(section.find(f"{_W}titlePg"))
    headers, footers = header("default"), footer("default")
    return _Letter(
        flowables,
        headers,
        footers,
        header("first") if different_first else headers,
        footer("first") if different_first else footers,
        page,
        margins,
        gap("header", 36.0),
        gap("footer", 36.0),
    )


def letters_pdf(documents: Sequence[bytes], *, font_dir: Path, title: str = "Letters") -> bytes:
    """Filled Word letters drawn as one PDF, each starting on a new page with its own page numbers (its
    footer's PAGE and NUMPAGES fields count its own pages), header and footer; one letter makes its own PDF."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfgen import canvas
    from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageBreak, PageTemplate, Paragraph

    if not documents:
        raise ValueError("no letters to draw")
    fonts = register_fonts(font_dir)
    for bold, italic, name in ((0, 0, fonts[0]), (1, 0, fonts[1]), (0, 1, fonts[0]), (1, 1, fonts[1])):
        addMapping(fonts[0], bold, italic, name)  # <b> takes the bold face; there is no italic face: upright
    letters = [_read_letter(data, fonts, _READERS) for data in documents]

    class Start(Flowable):  # type: ignore[misc]
        """Marks the page where letter `index` begins (takes no room)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

        def wrap(self, *_args: Any) -> tuple[float, float]:
            return 0.0, 0.0

        def draw(self) -> None:
            self.canv.letter_index = self.index

    def furniture(canvas_: Any, letter: _Letter, number: int, total: int) -> None:
        width, height = letter.page
        left, right, top, _bottom = letter.margins
        usable = width - left - right
        y = height - letter.header_distance
        for flowable in letter.first_header if number == 1 else letter.header:
            _w, h = flowable.wrap(usable, top)
            flowable.drawOn(canvas_, left, y - h)
            y -= h
        y = letter.footer_distance
        for markup, style in reversed(letter.first_footer if number == 1 else letter.footer):
            text = markup.replace(PAGE_MARK, str(number)).replace(PAGES_MARK, str(total))
            paragraph = Paragraph(text, style)
            _w, h = paragraph.wrap(usable, letter.footer_distance + 200)
            paragraph.drawOn(canvas_, left, y)
            y += h

    class LettersCanvas(canvas.Canvas):  # type: ignore[misc]
        """Holds every page until the end, then draws each letter's header and footer with its page count."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.letter_index = 0
            self._held: list[tuple[dict[str, Any], int]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._held.append((dict(self.__dict__), self.letter_index))
            self._startPage()

        def save(self) -> None:
            totals: dict[int, int] = {}
            for _state, index in self._held:
                totals[index] = totals.get(index, 0) + 1
            numbers: dict[int, int] = {}
            for state, index in self._held:
                self.__dict__.update(state)
                numbers[index] = numbers.get(index, 0) + 1
                furniture(self, letters[index], numbers[index], totals[index])
                canvas.Canvas.showPage(self)
            canvas.Canvas.save(self)

    first = letters[0]
    left, right, top, bottom = first.margins
    frame = Frame(left, bottom, first.page[0] - left - right, first.page[1] - top - bottom, id="body")
    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer, pagesize=first.page, title=title, author="", pageTemplates=[PageTemplate("letter", [frame])]
    )
    story: list[Any] = []
    for index, letter in enumerate(letters):
        if index:
            story.append(PageBreak())
        story.append(Start(index))
        story.extend(letter.body)
    from reportlab import rl_config

    ascii85, rl_config.useA85 = rl_config.useA85, 0  # images stored binary: a logo per letter costs no ASCII85
    try:
        document.build(story, canvasmaker=LettersCanvas)
    finally:
        rl_config.useA85 = ascii85
    return buffer.getvalue()
