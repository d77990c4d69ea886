"""The main window: the referral queue. (Issue 4 fills in the queue table, filters and triage panel.)"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox

from triage_app.config import AppPaths
from triage_app.ui.worker import DbWorker

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """Queue, filters and triage panel."""

    session_ready = Signal()
    session_failed = Signal(str)

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self.paths = paths
        self.session: Any = None
        self.worker = DbWorker(self)
        self.setWindowTitle("SPD Referral Triage")
        self.resize(1280, 800)
        self._placeholder = QLabel("Opening the referral database…")
        self.setCentralWidget(self._placeholder)
        self.statusBar().showMessage("Opening the referral database…")

    def database_description(self) -> str:
        """Where the open database is."""
        return "" if self.session is None else self.session.db.location.describe()

    def open_session(self) -> None:
        """Open, back up and migrate the database on the worker, then sign in."""

        def task() -> Any:
            from triage_app.services.app import local_today, open_session

            return open_session(
                self.paths.db_url,
                backup_dir=self.paths.backup_dir,
                rules_path=self.paths.rules_path,
                today=local_today(),
            )

        self.worker.submit(task, self._on_session, self._on_session_error)

    def _on_session(self, session: Any) -> None:
        self.session = session
        actor = session.actor
        self._placeholder.setText(f"Signed in as {actor.display_name}")
        self.statusBar().showMessage(
            f"Signed in: {actor.display_name} ({actor.describe_roles()})  |  rules {session.rules.version}"
        )
        self.session_ready.emit()

    def _on_session_error(self, error: BaseException) -> None:
        message = str(error)
        log.error("could not open the database: %s", type(error).__name__)
        self._placeholder.setText(f"The referral database could not be opened.\n\n{message}")
        self.session_failed.emit(message)
        if self.isVisible() and not self.signalsBlocked():
            QMessageBox.critical(self, "Cannot open the referral database", message)

    def shutdown(self) -> None:
        """Finish background work and close the database."""
        self.worker.shutdown()
        if self.session is not None:
            self.session.close()
