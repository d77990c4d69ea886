"""File > Import referrals…: a JSON file of referrals imported on the worker, with progress, Cancel and a results
dialog naming each record as `triage-app import` names it.

The import is the command line's (services.referral_import.import_referrals): each record its own transaction,
checked like a referral typed in (duplicate, possible duplicate, demographics, the identity minimum, the user's
role and the rules in force). Possible duplicates are not added (as the command without a reason): the
coordinator checks them and enters a second referral in the form if one is wanted.

Threads: the file is read and the records written on the one database worker, never the GUI thread. The worker
counts what it has done in a `_Progress` (a lock, two ints); a GUI-thread timer shows it ("Importing: 40 of 400").
Cancel sets an event the import asks before each record: the record in hand is finished (committed or not, whole
either way), nothing after it is tried, and the results list what was committed. The queue refreshes through the
context's Changes broadcast (`AppContext.run`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QProgressDialog,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.scoring import OUTCOME_LABELS
from triage_app.services.permissions import IMPORT_REFERRALS
from triage_app.ui.worker import DbWorker

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.referral_import import ImportReport, RecordResult
    from triage_app.ui.context import AppContext

TITLE = "Import referrals"
FAILED_TITLE = "Referrals not imported"


class _Progress:
    """What the worker has done, read by the GUI thread's timer (plain ints under a lock: nothing Qt crosses)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.done = 0
        self.cancel = threading.Event()

    def set_total(self, total: int) -> None:
        with self._lock:
            self.total = total

    def step(self) -> None:
        with self._lock:
            self.done += 1

    def read(self) -> tuple[int, int]:
        with self._lock:
            return self.done, self.total


def result_lines(result: RecordResult) -> list[str]:
    """A record's line as `triage-app import` prints it (the outcome in words), and for a refused one each field
    and why."""
    line = result.line()
    if result.outcome is not None:  # the outcome in words, as the queue says it (the command prints its code)
        line = line.replace(f"({result.outcome})", f"({OUTCOME_LABELS.get(result.outcome, result.outcome)})")
    lines = [line]
    lines += [f"    {error.field}: {error.message}" for error in result.errors]
    return lines


def report_text(report: ImportReport) -> str:
    """Every record's lines, in the file's order, then what was not tried."""
    lines: list[str] = []
    for result in report.results:
        lines += result_lines(result)
    not_tried = report.not_tried
    if not_tried:
        first, last = not_tried.start + 1, not_tried.stop
        span = f"record {first}" if first == last else f"records {first}-{last}"
        lines.append(f"{span}: not stored (not tried, or rolled back with the import's last transaction)")
    return "\n".join(lines)


class ImportResultsDialog(QDialog):
    """The end of an import: the counts (or where it stopped, or that it was cancelled), then every record."""

    def __init__(self, report: ImportReport, file_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.setWindowTitle(f"{TITLE}: {file_name}")
        layout = QVBoxLayout(self)
        if report.cancelled_at is not None:
            heading = "Import cancelled. What was stored before Cancel stays stored."
        elif report.stopped_at is not None:
            heading = "The import stopped: the database refused to go on."
        elif report.ok:
            heading = "Every record was added or was already stored."
        else:
            heading = "Some records were not added: each is listed below with the reason."
        self.heading = QLabel(heading)
        self.heading.setWordWrap(True)
        self.summary = QLabel(report.summary())
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAccessibleName("Import summary")
        self.records = QPlainTextEdit()
        self.records.setReadOnly(True)
        self.records.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)  # a long reason read whole
        self.records.setPlainText(report_text(report))
        self.records.setAccessibleName("Each record of the file and what became of it")
        self.records.setMinimumSize(720, 320)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        for widget in (self.heading, self.summary, self.records, buttons):
            layout.addWidget(widget)
        self.close_button.setFocus()

    @property
    def text(self) -> str:
        """Everything the dialog says, for tests and for copying."""
        return "\n".join((self.heading.text(), self.summary.text(), self.records.toPlainText()))


class ReferralImport(QObject):
    """The import action of one main window: choose the file, import on the worker, show the results."""

    def __init__(self, context: AppContext, window: QWidget) -> None:
        super().__init__(window)
        self.context = context
        self.window = window
        self.progress: _Progress | None = None
        self.progress_dialog: QProgressDialog | None = None
        self.results_dialog: ImportResultsDialog | None = None
        #: Called on the worker after each record's result is committed (tests hold the import there).
        self.after_record: Callable[[RecordResult], None] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._show_progress)
        # Its own worker, as the background reassessment has: the window's worker stays free for the queue's
        # reads, so the coordinator scrolls and searches while a long import runs.
        self.worker: DbWorker | None = None

    @property
    def running(self) -> bool:
        """An import is under way."""
        return self.progress is not None

    @staticmethod
    def choose_file(parent: QWidget) -> Path | None:
        """Ask which file to import; None when the user cancels (tests replace this)."""
        name, _ = QFileDialog.getOpenFileName(parent, "Import referrals from a JSON file", "", "JSON (*.json);;All (*)")
        return Path(name) if name else None

    def start(self, path: Path | None = None) -> None:
        """File > Import referrals…: ask for the file (unless given), then import it on the worker."""
        if self.context.session is None or self.running or not self.context.may(IMPORT_REFERRALS):
            return
        chosen = path if path is not None else self.choose_file(self.window)
        if chosen is None:
            return
        progress = _Progress()
        self.progress = progress
        dialog = QProgressDialog(f"Reading {chosen.name}…", "Cancel", 0, 0, self.window)
        dialog.setWindowTitle(TITLE)
        dialog.setWindowModality(Qt.WindowModality.NonModal)  # the queue stays usable behind it
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.cancel)
        dialog.setAccessibleName("Import progress")
        self.progress_dialog = dialog
        dialog.show()
        self._timer.start()
        after = self.after_record

        def op(session: AppSession) -> ImportReport:
            from triage_app.services.app import local_today
            from triage_app.services.referral_import import import_referrals, read_import_file

            records = read_import_file(chosen)
            progress.set_total(len(records))

            def heard(result: RecordResult) -> None:
                progress.step()
                if after is not None:
                    after(result)

            return import_referrals(
                session.db,
                actor=session.actor,
                records=records,
                rules=session.rules,
                as_of=local_today(),
                on_result=heard,
                should_stop=progress.cancel.is_set,
            )

        session = self.context.session
        assert session is not None  # checked on entry
        if self.worker is None:
            self.worker = DbWorker(self)

        def done(report: ImportReport) -> None:
            self._finished(report, chosen.name)
            self.context.broadcast(report.changes)  # the queue and counts read again: the new referrals show

        self.worker.submit(lambda: op(session), done, self._failed)

    def shutdown(self) -> None:
        """Closing the window: the record in hand is finished, nothing after it is tried; the worker joined."""
        if self.progress is not None:
            self.progress.cancel.set()
        if self.worker is not None:
            self.worker.shutdown()

    def cancel(self) -> None:
        """Cancel: the record in hand is finished, nothing after it is tried (what was committed stays)."""
        if self.progress is None:
            return
        self.progress.cancel.set()
        if self.progress_dialog is not None:
            self.progress_dialog.setLabelText("Cancelling: finishing the record in hand…")

    def _show_progress(self) -> None:
        if self.progress is None or self.progress_dialog is None:
            return
        done, total = self.progress.read()
        if total == 0 or self.progress.cancel.is_set():
            return
        dialog = self.progress_dialog
        if dialog.maximum() != total:
            dialog.setMaximum(total)
        dialog.setValue(done)
        dialog.setLabelText(f"Importing: {done:,} of {total:,}")

    def _end(self) -> None:
        self._timer.stop()
        self.progress = None
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self.cancel)
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None

    def _finished(self, report: ImportReport, file_name: str) -> None:
        """The results dialog (non-modal: the queue behind it refreshes from the broadcast that follows)."""
        self._end()
        dialog = ImportResultsDialog(report, file_name, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: self._forget(dialog))
        self.results_dialog = dialog
        dialog.show()

    def _forget(self, dialog: Any) -> None:
        if self.results_dialog is dialog:
            self.results_dialog = None

    def _failed(self, error: BaseException) -> None:
        """The file could not be imported at all (or the user may not import): said, nothing stored."""
        self._end()
        self.context.report_failure(FAILED_TITLE, error)
