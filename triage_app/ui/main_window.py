"""The main window's wiring: views with counts on the left, the queue in the centre, the triage panel on the right.

The window builds the views and gives each what it needs (the `AppContext`, the one `Selection`): the queue and
its filters (`QueuePane`), the side panel's counts (`QueueSidebar`), the forms (`ReferralForms`), the consultant's
actions (`ConsultantActions`), maintenance (`MaintenanceActions`) and the red banner (`ReadOnlyBanner`). Every
database call is an op on the context's one worker; each op's `Changes` is broadcast on `context.changed`, and
each view refreshes its own part from it. The menus and their enabling are in `ui.window_actions`.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from triage_app.config import AppPaths
from triage_app.ui.consultant_actions import ConsultantActions
from triage_app.ui.context import AppContext
from triage_app.ui.dialogs import Messages
from triage_app.ui.live_updates import LiveUpdates
from triage_app.ui.maintenance_actions import DEMO_COUNT, MaintenanceActions, restore_report_text
from triage_app.ui.queue_model import COLUMNS
from triage_app.ui.queue_pane import QueuePane
from triage_app.ui.read_only_banner import READ_ONLY_SHORT, ReadOnlyBanner
from triage_app.ui.referral_forms import ReferralForms
from triage_app.ui.screen_fit import fit_to_screen
from triage_app.ui.selection import Selection
from triage_app.ui.sidebar import QueueSidebar
from triage_app.ui.startup import GuiThreadDatabaseCall, is_damage, session_opener
from triage_app.ui.triage_panel import TriagePanel
from triage_app.ui.window_actions import WindowActions
from triage_app.ui.worker import DbWorker

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.changes import Changes
    from triage_app.services.queue import QueueCounts

log = logging.getLogger(__name__)


class MainWindow(WindowActions):
    """Queue, filters and triage panel."""

    session_ready = Signal()
    session_failed = Signal(str)
    detail_shown = Signal(int)
    #: Every broadcast `Changes`, after the views have started refreshing from it.
    changes_applied = Signal(object)

    def __init__(self, paths: AppPaths, *, settings: QSettings | None = None, login: str | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.login = login  # None: the operating-system login
        self.worker = DbWorker(self)
        #: What every view needs (the session, the worker, permissions) and the one way to run database work.
        self.context = AppContext(self.worker, paths, self)
        self.context.report_failure = self._report_failure
        self.settings = settings or QSettings(str(paths.data_dir / "window.ini"), QSettings.Format.IniFormat)
        self.selection = Selection(self)
        self.setWindowTitle("SPD Referral Triage")
        fit_to_screen(self, 1400, 860)  # roomy on a large screen, never larger than it

        self.queue = QueuePane(self.context, self.selection, self)
        self.queue.detail_shown.connect(self.detail_shown)
        self.model = self.queue.model
        self.model.failed.connect(lambda message: self._error("The queue could not be read", message))
        self.model.loaded.connect(
            lambda total: self.count_label.setText(f"{total:,} referral{'' if total == 1 else 's'} shown")
        )
        self.model.counting.connect(lambda: self.count_label.setText("Counting…"))  # never the last view's count
        self.table = self.queue.table
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.activated.connect(lambda _index: self.open_selected())
        self.sidebar = QueueSidebar(context=self.context, clock=self.model.clock)
        self.sidebar.view_chosen.connect(self.queue.choose_view)
        self.sidebar.counted.connect(self._on_counts)
        self.panel = TriagePanel(clock=self.model.clock)
        status = self.statusBar().showMessage
        self.forms_owner = ReferralForms(
            self.context,
            self.selection,
            self,
            show_result=self.queue.show_result,
            status=status,
            seen=self.queue.catch_up,
        )
        self.forms_owner.ready_to_quit.connect(lambda: QTimer.singleShot(0, self.close))
        self.consultant = ConsultantActions(
            self.context, self, acting_on=self.queue.acting_on, show_result=self.queue.show_result, status=status
        )
        self.maintenance_actions = MaintenanceActions(self.context, self, login=login, reopen=self._reopen)
        # Each batch the background reassessment saves: the queue's not-yet-reassessed markers read again (H05).
        self.maintenance_actions.reassessment.progressed.connect(lambda _done, _total: self.model.refresh_shown())
        self.panel.confirm_requested.connect(self.consultant.confirm_triage)
        self.panel.override_requested.connect(self.consultant.override_triage)
        self.panel.status_requested.connect(self.consultant.move_status)
        self.panel.missing_field_clicked.connect(lambda path: self.open_selected(focus_path=path))
        self.panel.edit_requested.connect(self.open_selected)
        self.selection.changed.connect(self._selection_shown)
        self.context.changed.connect(self._on_changed)
        # Other desktops' changes, broadcast as this desktop's own; the panel and open forms say who made them.
        self.live = LiveUpdates(self.context, self)
        self.live.arrived.connect(lambda batch: self.forms_owner.note_remote(batch.edits))
        self.live.status.connect(lambda text: self.statusBar().showMessage(text, 30_000))
        self.context.write_waits.connect(lambda text: self.statusBar().showMessage(text, 30_000))
        self.panel.set_remote_edits(self.live.edit_of)
        self._build_banner()
        self.read_only_banner = ReadOnlyBanner()
        self._layout_panes()
        self.addToolBar(self.queue.filter_bar())
        # The search sits in the menu bar's corner, as the design sketches it: a narrow window folds the filter
        # toolbar into its overflow menu, but the search box always stays on screen.
        corner = self._search_corner = QWidget()  # held: PySide does not hand the corner to the menu bar
        corner_layout = QHBoxLayout(corner)
        corner_layout.setContentsMargins(0, 2, 6, 2)
        corner_layout.addWidget(self.queue.search)
        self.menuBar().setCornerWidget(corner)
        self._build_actions()
        self._build_status_bar()
        self._restore_layout()
        self._set_enabled(False)

    # --- construction ----------------------------------------------------------------------------------------

    def _build_banner(self) -> None:
        self.banner = QWidget()
        layout = QHBoxLayout(self.banner)
        self.banner_text = QLabel("The queue is empty.")
        self.banner_text.setWordWrap(True)  # a long start-up error wraps: it never widens the centre past the window
        self.banner_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.demo_button = QPushButton("Load demo data")
        self.demo_button.setToolTip(
            f"Add {DEMO_COUNT} invented referrals (test-range NHS numbers) to see a working queue"
        )
        self.demo_button.clicked.connect(self.maintenance_actions.load_demo_data)
        self.new_button = QPushButton("New referral")
        self.new_button.clicked.connect(self.new_referral)
        layout.addWidget(self.banner_text, 1)
        layout.addWidget(self.demo_button)
        layout.addWidget(self.new_button)
        self.banner.hide()

    def _layout_panes(self) -> None:
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.banner)
        centre_layout.addWidget(self.table)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([230, 800, 380])
        # The read-only banner spans the window above the three panes: the first thing anyone sees.
        whole = QWidget()
        whole_layout = QVBoxLayout(whole)
        whole_layout.setContentsMargins(0, 0, 0, 0)
        whole_layout.setSpacing(0)
        whole_layout.addWidget(self.read_only_banner)
        whole_layout.addWidget(self.splitter, 1)
        self.setCentralWidget(whole)

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = self.settings.value("window/splitter")
        if isinstance(state, QByteArray):
            self.splitter.restoreState(state)
        header = self.settings.value("queue/header")
        if isinstance(header, QByteArray):
            self.table.horizontalHeader().restoreState(header)

    def save_layout(self) -> None:
        """Remember window size, panel sizes and column widths."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("queue/header", self.table.horizontalHeader().saveState())
        self._sync_settings()

    def _sync_settings(self) -> None:
        self.settings.sync()
        with contextlib.suppress(OSError):  # the layout file sits beside patient data: owner-only like it
            Path(self.settings.fileName()).chmod(0o600)

    # --- session ---------------------------------------------------------------------------------------------

    def database_description(self) -> str:
        """Where the open database is."""
        return "" if self.session is None else self.session.db.location.describe()

    def open_session(self) -> None:
        """Open, back up and migrate the database on the worker, then sign in."""
        self.worker.submit(session_opener(self.paths, self.login), self._on_session, self._on_session_error)

    def _on_session(self, session: AppSession) -> None:
        reopened = self.model.view is not None  # a restore: every view reads the restored database again
        self.context.set_session(session)
        actor = session.actor
        # Short in the status bar (its messages need the room at 1366 pixels); the tooltip says it whole.
        self.user_label.setText(f"{actor.display_name} ({actor.describe_roles()})")
        self.user_label.setToolTip(f"Signed in: {actor.display_name} ({actor.describe_roles()})")
        self.show_rules_in_force()
        self._set_enabled(True)
        self._apply_roles()  # after enabling: roles switch some actions off again
        self._show_read_only(session)
        self.queue.restore_columns(self.settings)  # this user's chosen columns
        self._selection_shown()  # and actions on a referral wait for one to be selected
        if session.read_only is None or not session.db.location.is_sqlite:  # a damaged file changes no more
            self.live.start()  # its starting point is read before the views' first reads below
        if reopened:
            from triage_app.services.changes import EVERYTHING

            self.context.broadcast(EVERYTHING)
        else:
            self.queue.apply_filters()
            self.sidebar.recount()
        self.maintenance_actions.daily_backup(session)  # queued after the first page and the counts
        self.session_ready.emit()
        if not self.settings.value("intended_use/shown", False, type=bool) and not self.property("smoke"):
            self.settings.setValue("intended_use/shown", True)
            self._sync_settings()
            Messages.intended_use(self)  # what the app does and does not do, once on each desktop

    def _reopen(self) -> None:
        """After a restore: the window waits for the restored database, opened and checked again."""
        self.banner.hide()
        self.restore_action.setEnabled(False)
        self._set_enabled(False)
        self.open_session()

    def show_rules_in_force(self) -> None:
        """Name the approved rules in force, and who approved them, in the status bar and on the triage panel."""
        from triage_app.domain.rules_changes import approval_line

        line = approval_line(self.session.approval)
        # The version alone in the status bar, whose messages need the room; who approved it, and when, is on the
        # triage panel and in the tooltip.
        self.rules_label.setText(f"Rules {self.session.approval.version}")
        self.rules_label.setToolTip(line)
        self.rules_label.setAccessibleDescription(line)
        self.panel.set_rules_line(line, self.session.approval.version)

    def _on_session_error(self, error: BaseException) -> None:
        from triage_app.services.app import is_lost_database

        message = str(error)
        log.error("could not open the database: %s", type(error).__name__)
        self.demo_button.hide()
        self.new_button.hide()
        if is_lost_database(error):
            self.setWindowTitle("SPD Referral Triage — NO DATABASE")
            self.maintenance_actions.offer_restore(error, self.read_only_banner, self.restore_action)
        else:
            self.banner_text.setText(f"The referral database could not be opened.\n\n{message}")
            self.banner.show()
        self.session_failed.emit(message)
        if not self.property("smoke"):
            Messages.error(self, "Cannot open the referral database", message)

    # --- changes flow one way --------------------------------------------------------------------------------

    def _on_changed(self, changes: Changes) -> None:
        """The window's own part of a change: the time of the last save. The views refresh themselves."""
        if changes.by is None:
            self.saved_label.setText(f"saved {self._now()}")
        if (changes.rules or changes.everything) and self.session is not None:
            self.show_rules_in_force()  # the status bar and the panel name the rules in force
        self.changes_applied.emit(changes)

    def refresh(self) -> None:
        """F5: read the rules in force again (another desktop may have approved newer ones), then every view."""
        if self.session is None:
            return
        from triage_app.services.changes import EVERYTHING

        self.context.query(
            lambda session: session.reload_rules(),
            title="Rules",
            on_success=lambda _approval: self.show_rules_in_force(),
        )
        self.context.broadcast(EVERYTHING)  # queued after the rules on the one worker: scored with those

    def refresh_counts(self) -> None:
        """Update the side panel's counts in the background."""
        self.sidebar.recount()

    def _on_counts(self, counts: QueueCounts) -> None:
        empty = counts.total == 0 and not self.queue.filtering()
        self.banner_text.setText(
            "The queue is empty. Enter the first referral, or load invented demo referrals to try the app."
        )
        self.banner.setVisible(empty)

    def _decide(self, detail: Any, outcome: str | None, reason: str | None) -> None:
        self.consultant.decide(detail, outcome, reason)

    # --- failures --------------------------------------------------------------------------------------------

    def _report_failure(self, title: str, error: BaseException) -> None:
        """The context's failure report: what failed, said to the user."""
        self._on_worker_error(title)(error)

    def _on_worker_error(self, title: str) -> Any:
        def report(error: BaseException) -> None:
            from triage_app.services.errors import PermissionDenied

            if is_damage(error) and self.maintenance_actions.page_check.hold(lambda: report(error)):
                return  # said once the file's check after the first paint has answered (ui.page_check)
            log.error("%s: %s", title, type(error).__name__)
            if self.read_only is not None and is_damage(error):
                # The red banner already says the database is damaged and how to restore it: a read that runs into
                # the damage (the counts, a search over a damaged index) says so in the status bar, without a
                # dialog on every refresh, and is not retried.
                self.statusBar().showMessage(f"{title}: not available (database damaged)")
                return
            self._error(title, str(error))
            if isinstance(error, PermissionDenied):
                # The user's roles refused it (perhaps changed since they signed in): reading again would be
                # refused again, and a refused read of the panel must not ask again and again.
                return
            self.queue.apply_filters()  # a refusal often means the data moved on: the queue and the panel catch up
            if self.selection.referral_id is not None:
                self.queue.show_detail(self.selection.referral_id)

        return report

    def _error(self, title: str, message: str) -> None:
        message = message[:1].upper() + message[1:]  # a service's reason reads as a sentence on its own
        self.statusBar().showMessage(f"{title}: {message}", 15_000)
        Messages.error(self, title, message)

    @staticmethod
    def _read_only_short() -> str:
        return READ_ONLY_SHORT

    @staticmethod
    def _now() -> str:
        from datetime import datetime

        return datetime.now().astimezone().strftime("%H:%M")

    # --- closing ---------------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Quitting asks about every unsaved form; one saved on the way closes when its save lands."""
        forms = self.forms_owner
        forms.quitting = True
        meeting_window = getattr(self, "meeting_window", None)
        if meeting_window is not None and meeting_window.isVisible() and not meeting_window.close():
            forms.quitting = False
            event.ignore()
            return
        for form in [f for f in forms.forms if f.dirty]:  # unsaved ones first: a Cancel leaves every form open
            form.close()
            if form in forms.forms and not form.closing_after_save:  # the user chose Cancel
                forms.quitting = False
                event.ignore()
                return
        for form in [f for f in forms.forms if not f.dirty and not f.closing_after_save]:
            form.close()
        if forms.forms:  # saves in flight: quit once they land (or stop if one fails)
            event.ignore()
            return
        self.save_layout()
        self.live.stop()
        event.accept()

    def shutdown(self) -> None:
        """Finish background work and close the database."""
        self.live.stop()
        if getattr(self, "referral_import", None) is not None:
            self.referral_import.shutdown()  # stops after the record in hand: what was committed stays
        self.maintenance_actions.shutdown()
        self.worker.shutdown()
        if self.session is not None:
            self.session.close()


__all__ = ["COLUMNS", "GuiThreadDatabaseCall", "MainWindow", "restore_report_text"]
