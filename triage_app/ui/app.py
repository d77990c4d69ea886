"""Starting the desktop app: window first, then the database on the worker thread."""

from __future__ import annotations

import gc
import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from triage_app import __version__
from triage_app.config import AppPaths
from triage_app.ui.theme import apply_theme

log = logging.getLogger(__name__)


def show_startup_error(message: str) -> None:
    """A problem found before the window could open (an unusable data folder), shown in a message box."""
    from PySide6.QtWidgets import QMessageBox

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    QMessageBox.critical(None, "SPD Referral Triage cannot start", message)


def _report_unexpected(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """Last resort for a bug on the GUI thread: log it (type and place, never data) and tell the user."""
    # Frames only: an exception's message can quote what a user typed, and the log holds no patient data.
    log.error("unexpected %s at\n%s", kind.__name__, "".join(traceback.format_tb(trace)))
    from triage_app.ui.dialogs import Messages

    Messages.error(
        None,
        "Something went wrong",
        f"The app met an unexpected problem ({kind.__name__}). Nothing already saved is affected; the details "
        "are in the log file. Please tell the unit's IT contact.",
    )


#: Allocations (less deallocations) between the collector's young-generation passes (Python's default: 700), and
#: young passes between older ones (default 10, 10). A reassessment batch makes and frees hundreds of thousands of
#: objects, almost none in cycles: at the defaults the collector ran about a thousand times over 10,000 referrals,
#: each pass holding the interpreter lock while the window waited (up to 74 ms on a loaded machine); at these, none.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_interpreter() -> None:
    """The interpreter settings that keep the window answering while a worker runs Python (the app and the
    benchmarks that measure it call this)."""
    # Hand the interpreter lock between the GUI thread and the database worker every millisecond (default 5).
    sys.setswitchinterval(0.001)
    gc.set_threshold(*GC_THRESHOLDS)


def run_gui(paths: AppPaths, *, smoke: bool = False) -> int:
    """Show the main window, open the database in the background, run the event loop."""
    from triage_app.ui.main_window import MainWindow
    from triage_app.ui.rules_dialog import update_rules_notice

    tune_interpreter()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("SPD Referral Triage")
    app.setOrganizationName("SPD-MDT")
    app.setApplicationVersion(__version__)
    apply_theme(app)
    if not smoke:
        sys.excepthook = _report_unexpected
    window = MainWindow(paths)
    window.setProperty("smoke", smoke)
    # Administrators are offered rules shipped with a newer app (never applied silently): a notice with Review….
    # Not on a database open read-only: approving them could only be refused (the red banner says why).
    window.session_ready.connect(lambda: None if window.read_only is not None else update_rules_notice(window))
    # Everything alive once the session is open (modules, widgets, the session) lives as long as the app: frozen
    # out of the collector's reach, a full collection during background work (a reassessment allocates a lot)
    # no longer rescans it while holding the interpreter lock, which stood the window still for 0.5 s at a time.
    window.session_ready.connect(gc.freeze)
    window.show()
    status = {"code": 0}

    if smoke:

        def finish(ok: bool, message: str) -> None:
            if not ok:
                print(f"triage-app: {message}", file=sys.stderr)
                status["code"] = 1
            else:
                print(f"smoke: started and opened {message}")
            window.close()
            app.quit()

        window.session_ready.connect(lambda: finish(True, window.database_description()))
        window.session_failed.connect(lambda message: finish(False, message))
        QTimer.singleShot(60_000, lambda: finish(False, "timed out opening the database"))
    QTimer.singleShot(0, window.open_session)
    code = app.exec()
    window.shutdown()
    log.info("app closed")
    return status["code"] or code
