"""The meeting's exports: the agenda and the outcome summary to a file, the print preview, outcome letters.

Every export runs on the database worker through `AppContext.query` (an export writes a file and an audit
event, never anything a view shows, so it broadcasts no change).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QMenu, QPushButton, QVBoxLayout, QWidget

from triage_app.services.permissions import EXPORT_AGENDA, EXPORT_LETTERS, EXPORT_OUTCOMES, who_may
from triage_app.ui.dialogs import Messages
from triage_app.ui.meetings.dialogs import ExportChoice, FolderChoice
from triage_app.ui.meetings.screen import MeetingScreen

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.meetings import MeetingDetail
    from triage_app.ui.context import AppContext


T = TypeVar("T")

#: Formats of the agenda and outcome exports; letters take the first two only.
FORMATS = ("pdf", "docx", "csv", "html")
LETTER_FORMATS = ("pdf", "docx")


class TemplateChoice:
    """Which Word file to use as the letter template: the file dialog, replaceable in tests."""

    @classmethod
    def ask(cls, parent: QWidget | None) -> Path | None:
        """The chosen .docx, or None."""
        name, _ = QFileDialog.getOpenFileName(
            parent, "Letter template (a Word document with {{ placeholders }})", "", "Word documents (*.docx)"
        )
        return Path(name) if name else None


class ExportBar(MeetingScreen):
    """Format, pseudonymisation and the export, print and letter buttons of the meeting shown."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.format = QComboBox()
        for fmt in FORMATS:
            self.format.addItem(fmt.upper(), fmt)
        self.format.setAccessibleName("Export format")
        self.pseudonymised = QCheckBox("Pseudonymised (initials, last 4 NHS digits)")
        self.export_button = QPushButton("&Export agenda…")
        self.export_button.clicked.connect(lambda: self.export(outcomes=False))
        self.outcomes_button = QPushButton("Export &outcome summary…")
        self.outcomes_button.clicked.connect(lambda: self.export(outcomes=True))
        self.print_button = QPushButton("P&rint preview…")
        self.print_button.clicked.connect(self.print_preview)
        self.letters_button = QPushButton("Outcome &letters…")
        self.letters_button.setToolTip(
            "One letter per decided case to its referrer, in the chosen format (PDF or Word)"
        )
        self.letters_button.clicked.connect(self.write_letters)
        self.merged = QCheckBox("One P&DF to print")
        self.merged.setToolTip("With the letters, one PDF of every letter for printing (each numbered from page 1)")
        self.template_button = QPushButton("Letter te&mplate…")
        self.template_button.setAccessibleName("Letter template")
        menu = QMenu(self.template_button)
        menu.addAction("Choose a Word template…", self.choose_template)
        menu.addAction("Use the shipped example", self.use_shipped_template)
        self.template_button.setMenu(menu)
        self.show_template()
        # Two rows, the meeting's paperwork above its letters: in one row the bar alone was wider than a 1366-pixel
        # screen, which pushed the meeting window (and the in-meeting screen's Record button) off its right edge.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for row in (
            (self.format, self.pseudonymised, self.export_button, self.outcomes_button, self.print_button),
            (self.letters_button, self.merged, self.template_button),
        ):
            line = QHBoxLayout()
            for widget in row:
                line.addWidget(widget)
            line.addStretch(1)
            layout.addLayout(line)

    def show_meeting(self, detail: MeetingDetail | None) -> None:
        """The meeting the buttons act on (None: no meeting chosen, every button off)."""
        self.detail = detail
        self.enable()

    def enable(self) -> None:
        """Each button follows the meeting shown and the role matrix; one disabled by role says who may use it."""
        has = self.detail is not None
        for widget, action in (
            (self.export_button, EXPORT_AGENDA),
            (self.print_button, EXPORT_AGENDA),
            (self.outcomes_button, EXPORT_OUTCOMES),
            (self.letters_button, EXPORT_LETTERS),
            (self.merged, EXPORT_LETTERS),
            (self.template_button, EXPORT_LETTERS),
        ):
            allowed = self.context.may(action)
            widget.setEnabled(has and allowed)
            if not allowed:
                widget.setToolTip(who_may(action))

    def _meeting_id(self) -> int:
        return 0 if self.detail is None else self.detail.meeting.id or 0

    def _export_op(self, export: Callable[..., T], **options: Any) -> Callable[[AppSession], tuple[T, list[str]]]:
        """The op running `export` (services.exports) on the meeting shown, never into the data folder; it returns
        what was written and the notes of where it was recorded (on a read-only database)."""
        meeting_id, data_dir = self._meeting_id(), self.context.paths.data_dir

        def op(session: AppSession) -> tuple[T, list[str]]:
            from triage_app.services.exports import export_noting

            return export_noting(
                export, session.db, actor=session.actor, meeting_id=meeting_id, data_dir=data_dir, **options
            )

        return op

    def export(self, *, outcomes: bool) -> None:
        """Export the agenda (or the outcome summary) in the chosen format.

        The save dialog asks before replacing a file (Qt's own question), so its answer is passed on as
        `overwrite`; a file in the data folder (or the database itself) is still refused, in the error dialog,
        and nothing is written.
        """
        from triage_app.services.exports import export_agenda_file, notes_suffix

        if self.detail is None:
            return
        fmt: str = self.format.currentData()
        kind = "outcomes" if outcomes else "agenda"
        suggested = f"mdt-{kind}-{self.detail.meeting.meeting_date.isoformat()}.{fmt}"
        target = ExportChoice.ask(self, suggested, fmt)
        if target is None:
            return
        op = self._export_op(
            export_agenda_file,
            fmt=fmt,
            out=target,
            pseudonymised=self.pseudonymised.isChecked(),
            outcomes=outcomes,
            overwrite=True,  # the save dialog has asked before replacing an existing file
        )

        def done(result: tuple[Path, list[str]]) -> None:
            path, notes = result
            self.message.emit(f"Exported to {path}" + notes_suffix(notes), 10_000)

        self.context.query(op, title="Export failed", on_success=done, on_failure=self.failure("Export failed"))

    def write_letters(self) -> None:
        """One outcome letter per decided case, as PDF or Word (CSV and HTML are not letter formats).

        If letters of this meeting are already in the chosen folder, none is written until the user agrees to
        replace them (a folder dialog cannot ask); a folder in the data folder is refused in the error dialog.
        """
        if self.detail is None:
            return
        chosen = self.format.currentData()
        fmt = chosen if chosen in LETTER_FORMATS else "docx"
        folder = FolderChoice.ask(self)
        if folder is None:
            return
        self._write_letters_to(folder, fmt, overwrite=False)

    def template_path(self) -> Path | None:
        """The letter template this desktop uses (settings.ini `[letters] template`), None for the shipped one."""
        from triage_app.config import ConfigError, settings_letter_template

        try:
            return settings_letter_template(self.context.paths.data_dir)
        except ConfigError:
            return None  # the letters' export says what is wrong with the settings file

    def show_template(self) -> None:
        """The template button's tooltip names the template the letters will use."""
        chosen = self.template_path()
        self.template_button.setToolTip(
            f"Letters use the Word template {chosen}" if chosen else "Letters use the shipped example template"
        )

    def choose_template(self) -> None:
        """Choose a unit's Word template for this desktop's letters; refused, with the reason, if it cannot be used
        (not a .docx, a placeholder every letter needs missing, one misspelt)."""
        from triage_app.config import write_settings_letter_template
        from triage_app.services.errors import ServiceError
        from triage_app.services.exports import check_letter_template

        path = TemplateChoice.ask(self)
        if path is None:
            return
        try:
            check_letter_template(path)
        except ServiceError as exc:
            Messages.error(self, "Letter template not used", str(exc))
            return
        write_settings_letter_template(self.context.paths.data_dir, path)
        self.show_template()
        self.message.emit(f"Letters will use the template {path.name}", 10_000)

    def use_shipped_template(self) -> None:
        """Go back to the shipped example template."""
        from triage_app.config import write_settings_letter_template

        write_settings_letter_template(self.context.paths.data_dir, None)
        self.show_template()
        self.message.emit("Letters will use the shipped example template", 10_000)

    def _write_letters_to(self, folder: Path, fmt: str, *, overwrite: bool) -> None:
        """Write the letters on the database worker; offer to replace letters already in `folder`."""
        from triage_app.services.app import local_today
        from triage_app.services.exports import ExportWouldOverwrite, export_letters, notes_suffix

        title = "Letters not written"
        op = self._export_op(
            export_letters,
            fmt=fmt,
            out_dir=folder,
            today=local_today(),
            overwrite=overwrite,
            merged=self.merged.isChecked(),
        )

        def done(result: tuple[list[Path], list[str]]) -> None:
            paths, notes = result
            letters = [path for path in paths if not path.name.endswith("(to print).pdf")]
            merged = " and one PDF of them to print" if len(letters) < len(paths) else ""
            self.message.emit(f"{len(letters)} letters{merged} written to {folder}" + notes_suffix(notes), 10_000)

        def failed(error: BaseException) -> None:
            if isinstance(error, ExportWouldOverwrite) and not overwrite:
                names = "\n".join(path.name for path in error.existing)
                if Messages.confirm(
                    self,
                    "Replace letters",
                    f"These letters are already in {folder}:\n{names}\n\nReplace them? No letter has been written yet.",
                ):
                    self._write_letters_to(folder, fmt, overwrite=True)
                    return
                self.message.emit("No letters written: the letters already there were left as they are", 0)
                return
            self.failure(title)(error)

        self.context.query(op, title=title, on_success=done, on_failure=failed)

    def agenda_document(self, done: Callable[[QTextDocument], None]) -> None:
        """The agenda as a QTextDocument (for print and preview), built off the GUI thread."""
        from triage_app.exporters.agenda import agenda_html
        from triage_app.services.exports import make_agenda

        meeting_id, pseudo = self._meeting_id(), self.pseudonymised.isChecked()

        def op(session: AppSession) -> bytes:
            agenda = make_agenda(
                session.db,
                meeting_id=meeting_id,
                pseudonymised=pseudo,
                actor=session.actor,  # printing takes the agenda out of the app: an export
            )
            return agenda_html(agenda)

        def made(html: bytes) -> None:
            document = QTextDocument(self)
            document.setHtml(html.decode("utf-8"))
            done(document)

        title = "Agenda not prepared"
        self.context.query(op, title=title, on_success=made, on_failure=self.failure(title))

    def print_preview(self) -> None:
        """Preview and print the agenda (A4)."""
        from PySide6.QtPrintSupport import QPrinter, QPrintPreviewDialog

        def show(document: QTextDocument) -> None:
            printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            preview = QPrintPreviewDialog(printer, self)
            preview.paintRequested.connect(document.print_)
            preview.exec()

        self.agenda_document(show)
