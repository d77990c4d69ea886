"""The whole-file check of a SQLite database, after the window's first paint, and a late switch to read-only.

`PRAGMA quick_check` reads every page: seconds at 100,000 referrals, so it no longer stands between the start and
a usable queue. The start still looks at the file's header, schema revision and whether its disk can be written
first (storage.preflight); the quick check runs on a worker of its own once the first page has been read, the
queue usable meanwhile. Until it has passed, every write waits for it (a save in the first seconds takes that much
longer) and none is made on a damaged file: storage.preflight's gate refuses them. Only when it passes do the
background reassessment and the daily backup begin (they write, and copy, the file).

When it finds the file damaged, the open window turns read-only: the red banner says the damage was found after
the window opened, that nothing was lost by it (an open form keeps what was typed; it cannot be saved), and which
backup restores it; the controls that write are switched off, and a message box says it once. A save attempted
afterwards is refused in words (`DatabaseReadOnly`), its form left open. Closing the window stops the check at
once (the statement is interrupted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow

from triage_app.storage.stopping import Stopped
from triage_app.ui.worker import DbWorker

if TYPE_CHECKING:
    from triage_app.services.app import AppSession, ReadOnlyStart
    from triage_app.ui.context import AppContext

log = logging.getLogger(__name__)

#: The message box's title when the check finds damage after the window opened.
LATE_DAMAGE_TITLE = "The database is damaged: read only from now on"


class LatePageCheck(QObject):
    """One window's deferred quick check: started after the first page, on a worker of its own."""

    def __init__(self, context: AppContext, window: QMainWindow) -> None:
        super().__init__(window)
        self.context = context
        self.window = window
        self.worker: DbWorker | None = None
        self._session: AppSession | None = None
        self._held: list[Callable[[], None]] = []
        self._closed = False
        #: What it last found, for the status line and tests: "", "checking", "passed", "damaged", "stopped",
        #: "failed".
        self.state = ""

    def hold(self, report: Callable[[], None]) -> bool:
        """Keep a read's damage report (a count that ran into a damaged index) until the check has answered: True
        when held. Before the verdict the window does not yet know the file is damaged, and would say it in a
        dialog on every refresh; after it, the banner says it and the read's failure is a status-bar line."""
        session = self.context.session
        check = None if session is None else session.page_check
        if session is None or check is None or session.read_only is not None or check.answered:
            return False
        self._held.append(report)
        return True

    def _release(self) -> None:
        held, self._held = self._held, []
        for report in held:
            report()

    @property
    def running(self) -> bool:
        """Whether a check is under way."""
        return self.state == "checking"

    def start(self, session: AppSession, then: Callable[[AppSession], None]) -> None:
        """Check `session`'s file in the background; `then(session)` once it passed (at once when nothing is left
        to check: a server, a file checked at open, a database already read-only)."""
        if self._closed:
            return  # the window closed before its first page came back: nothing more to start
        check = session.page_check
        if check is None or session.read_only is not None or check.passed:
            then(session)
            return
        from triage_app.services.app import check_pages_late

        if self.worker is None:
            self.worker = DbWorker(self)
        self._session = session
        self.state = "checking"
        backup_dir = self.context.paths.backup_dir

        def done(problem: ReadOnlyStart | None) -> None:
            if self._closed or self.context.session is not session:
                return  # replaced (a restore) or closed meanwhile
            if problem is None:
                self.state = "passed"
                from triage_app.ui.context import WAITS_FOR_CHECK

                bar = self.window.statusBar()
                if bar.currentMessage() == WAITS_FOR_CHECK:  # the saves waiting go on: no longer true
                    bar.clearMessage()
                self._release()
                then(session)
                return
            self.state = "damaged"
            self._turn_read_only(session, problem)
            self._release()

        def failed(error: BaseException) -> None:
            if isinstance(error, Stopped):
                self.state = "stopped"
                self._held.clear()  # closing: nothing more to say
                return
            # Not a verdict on the file (the check itself failed): said, and the writes still wait at the gate,
            # which runs the check again before the first of them.
            self.state = "failed"
            log.error("the database check after opening failed: %s", type(error).__name__)
            self.window.statusBar().showMessage(f"The database could not be checked: {error}", 60_000)
            self._release()

        self.worker.submit(lambda: check_pages_late(session, backup_dir), done, failed)

    def _turn_read_only(self, session: AppSession, problem: ReadOnlyStart) -> None:
        """The open window becomes read-only: banner, title, controls, and one message box."""
        from triage_app.ui.dialogs import Messages

        window: Any = self.window
        log.warning("database found damaged after the window opened: read only from now on")
        if session.db.location.is_sqlite:
            window.live.stop()  # a damaged file changes no more (as a read-only start); a restore needs it closed
            from triage_app.services.app import reopen_read_only

            backup_dir = self.context.paths.backup_dir
            # On the window's worker, between its ops: the file read from now on as a start reads a damaged one.
            self.context.worker.submit(
                lambda: reopen_read_only(session, backup_dir),
                None,
                lambda error: log.error(
                    "the damaged database could not be reopened read-only: %s", type(error).__name__
                ),
            )
        window._show_read_only(session)  # the red banner (late wording), title, the restore offer
        window._apply_roles()  # every control that writes off, saying why
        window._selection_shown()  # the panel's confirm, override, edit and status moves too
        window.statusBar().showMessage("The database was found damaged: read only from now on (see the red banner)")
        if not window.property("smoke"):
            Messages.error(window, LATE_DAMAGE_TITLE, late_damage_text(problem))

    def stop(self) -> None:
        """Closing the window: interrupt a check under way (no verdict; the next start checks again)."""
        session = self._session
        if session is not None and session.page_check is not None:
            session.page_check.stop()

    def shutdown(self) -> None:
        """Stop the check and join its worker; nothing starts after this."""
        self._closed = True
        self.stop()
        if self.worker is not None:
            self.worker.shutdown()


def late_damage_text(problem: ReadOnlyStart) -> str:
    """The message box's words: what was found, that nothing was lost by it, what to do."""
    return (
        "The check of the database that runs after the window opens found it damaged. The window is now open "
        "for reading only: nothing can be changed or saved.\n\n"
        "Nothing was lost by this: this window has written nothing to the damaged file (every save waits for "
        "the check), and a form still open keeps what you typed (it cannot be saved; copy it out if you need "
        "it).\n\n"
        f"{problem.reason}"
    )
