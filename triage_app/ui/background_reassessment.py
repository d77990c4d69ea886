"""Reassessment in the background: a progress bar and a Cancel in the status bar, the queue usable meanwhile.

After a rules change (a database started with its shipped rules newly approved, or an approval on this desktop),
the open referrals not yet at an MDT are rescored on a worker of their own, a batch of a few hundred per write
transaction with its audit events (services.reassessment.reassess_open). The window's own worker keeps answering
the queue and the panel between the batches (reads run in transactions of their own), and the GUI thread only
receives integers: the batch done and the total. Cancel (or closing the window) stops it between batches and keeps
every batch committed; the referrals left keep their earlier assessment, and the triage panel says so ("not yet
reassessed with the rules in force"). The next start (or approval) picks them up again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QProgressBar, QPushButton, QWidget

from triage_app.services.reassessment import BATCH_SIZE
from triage_app.storage.stopping import StopSignal
from triage_app.ui.worker import DbWorker

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.ui.context import AppContext

log = logging.getLogger(__name__)


def progress_words(done: int, total: int) -> str:
    """`Reassessing: 1,234 of 10,000`."""
    return f"Reassessing: {done:,} of {total:,}"


class BackgroundReassessment(QObject):
    """One window's background reassessment: started after the first paint, shown in the status bar."""

    #: (done, total) after each committed batch, emitted on the worker and queued to the GUI thread (ints only).
    progressed = Signal(int, int)
    #: The reassessment ended (finished, cancelled or failed); for tests and whoever waits on it.
    finished = Signal()
    #: Referrals per batch (one write transaction each, with their audit events).
    batch_size = BATCH_SIZE

    def __init__(self, context: AppContext, window: QMainWindow) -> None:
        super().__init__(window)
        self.context = context
        self.window = window
        self.worker: DbWorker | None = None  # its own worker, made when first needed
        self.stop_signal: StopSignal | None = None
        self._again: AppSession | None = None  # started again when the one running ends (newer rules)
        self._closing = False
        self._when_idle: list[Callable[[], object]] = []
        self.running = False
        self.done = 0
        self.total = 0
        #: What the status bar last said about it (for tests and whoever looks).
        self.state = ""
        self.box = QWidget()
        layout = QHBoxLayout(self.box)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        # Room for the whole count: the status bar squeezed it to "Reassessing: 1,2" at 1366 pixels (trial).
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(progress_words(999_999, 999_999)) + 8)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setTextVisible(True)
        self.bar.setFormat("%p%")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop reassessing; the referrals done so far keep their new assessment")
        self.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.box.hide()
        window.statusBar().addPermanentWidget(self.box)
        self.progressed.connect(self._on_progress)

    @property
    def remaining(self) -> int:
        """Referrals still to reassess while one runs (0 when none runs)."""
        return max(0, self.total - self.done) if self.running else 0

    def start(self, session: AppSession) -> None:
        """Reassess, in the background, every open referral assessed by other rules than those in force.

        Nothing for a database open read-only. One already running (rescoring with the rules it started with)
        is stopped after its batch and this one starts when it ends: newer rules were approved meanwhile."""
        if session.read_only is not None:
            return
        if self.running:
            self._again = session
            if self.stop_signal is not None:
                self.stop_signal.stop()
            return
        from triage_app.services.app import local_today
        from triage_app.services.reassessment import reassess_open

        if self.worker is None:
            self.worker = DbWorker(self)
        stop = self.stop_signal = StopSignal()
        db, actor, rules, as_of = session.db, session.actor, session.rules, local_today()
        self.running = True
        self.done = self.total = 0
        self.cancel_button.setEnabled(True)

        def report(done: int, total: int) -> None:
            self.progressed.emit(done, total)

        def task() -> Any:
            return reassess_open(
                db, actor=actor, rules=rules, as_of=as_of, progress=report, stop=stop, batch_size=self.batch_size
            )

        self.worker.submit(task, self._on_done, self._on_failed)

    def _on_progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if total == 0:
            return
        if not self.box.isVisible() and done < total:
            self.box.show()
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        self.state = progress_words(done, total)
        self.label.setText(self.state)
        self.label.setToolTip(
            f"{total - done:,} referrals are still assessed with earlier rules; each shows as not yet reassessed "
            "until its batch is saved. The queue can be used meanwhile."
        )

    def _on_done(self, result: Any) -> None:
        self.running = False
        self.box.hide()
        if result.referral_ids:
            self.context.broadcast(result.changes)  # every view reads again: the new assessments show
        if result.stopped:
            # Short enough to be read whole beside the status bar's permanent items at 1366 pixels (it was cut).
            self.state = (
                f"Reassessment stopped: {len(result.referral_ids):,} done, {result.remaining:,} not yet "
                "(the next start goes on)"
            )
        elif result.referral_ids:
            lapsed = f"; {len(result.lapsed):,} decisions lapsed" if result.lapsed else ""
            self.state = f"Reassessed {len(result.referral_ids):,} open referrals{lapsed}"
        else:
            self.state = ""
        if self.state:
            self.window.statusBar().showMessage(self.state, 30_000)
        self.finished.emit()
        self._start_again()

    def _start_again(self) -> None:
        again, self._again = self._again, None
        if again is not None and not self._closing:
            self.start(again)
        if not self.running:
            waiting, self._when_idle = self._when_idle, []
            for callback in waiting if not self._closing else ():
                callback()

    def when_idle(self, callback: Callable[[], object]) -> None:
        """Run `callback` (on the GUI thread) once no reassessment runs: at once when none does.

        The daily backup waits for it: two long jobs of Python at once on the app's threads stood the window still
        for longer under load, and the backup's audit check, reading the trail while batches committed, could
        find the checkpoint ahead of the database it had read and report events deleted that were not.
        """
        if not self.running:
            callback()
            return
        self._when_idle.append(callback)

    def _on_failed(self, error: BaseException) -> None:
        self.running = False
        self.box.hide()
        log.error("background reassessment failed: %s", type(error).__name__)
        self.state = f"Reassessment stopped by a problem: {error}. The batches saved are kept; F5 shows them."
        self.window.statusBar().showMessage(self.state, 60_000)
        from triage_app.services.changes import EVERYTHING

        self.context.broadcast(EVERYTHING)  # the batches saved before the problem show
        self.finished.emit()
        self._start_again()

    def cancel(self) -> None:
        """Stop after the batch under way (kept, with its audit events); the rest keep their earlier assessment."""
        if self.stop_signal is not None and self.running:
            self.stop_signal.stop()
            self.cancel_button.setEnabled(False)
            self.label.setText(self.state + " — stopping…")

    def shutdown(self) -> None:
        """Closing the window: stop after the batch under way and join the worker."""
        self._closing = True
        if self.stop_signal is not None:
            self.stop_signal.stop()
        if self.worker is not None:
            self.worker.shutdown()
