"""The main window: views with counts on the left, the queue in the centre, the triage panel on the right.

It wires the views to the use cases. Every database call goes through the one worker; results come back on
the GUI thread, failures always reach the user as a message.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from triage_app.config import AppPaths
from triage_app.domain.meetings import triage_text
from triage_app.domain.scoring import FLAGS, OUTCOME_LABELS, OUTCOMES
from triage_app.domain.workflow import STATUS_LABELS, STATUSES, move_needs_reason
from triage_app.services.permissions import (
    BACKUP,
    CONFIRM_TRIAGE,
    ENTER_REFERRAL,
    LOAD_DEMO,
    MANAGE_USERS,
    OVERRIDE_TRIAGE,
    VIEW_MEETINGS,
    VIEW_RULES,
    actor_may,
    who_may,
)
from triage_app.ui.context import AppContext
from triage_app.ui.dialogs import (
    CANCEL,
    OPEN_EXISTING,
    RELOAD,
    ConflictDialog,
    Messages,
    OverrideDialog,
    ReasonDialog,
    referral_patient_line,
)
from triage_app.ui.queue_model import COL_WEEKS, COLUMNS, ID_ROLE, QueueTableModel, QueueView
from triage_app.ui.referral_form import ReferralForm
from triage_app.ui.selection import Selection
from triage_app.ui.sidebar import QueueSidebar
from triage_app.ui.triage_panel import NOT_CONSULTANT, TriagePanel
from triage_app.ui.worker import DbWorker

log = logging.getLogger(__name__)

DEMO_COUNT = 300


class GuiThreadDatabaseCall(RuntimeError):
    """A database call was made on the GUI thread: it would freeze the window."""


def gui_thread_guard() -> None:
    """Installed on the app's database: every call from the GUI thread fails loudly."""
    if threading.current_thread() is threading.main_thread():
        raise GuiThreadDatabaseCall("database call on the GUI thread; submit it to the DbWorker instead")


def _is_damage(error: BaseException) -> bool:
    """True when a database read failed because the file is damaged (storage.engine says so in its message)."""
    from triage_app.storage.engine import DatabaseError

    return isinstance(error, DatabaseError) and "is damaged" in str(error)


class MainWindow(QMainWindow):
    """Queue, filters and triage panel."""

    session_ready = Signal()
    session_failed = Signal(str)
    detail_shown = Signal(int)
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
        self.forms: list[ReferralForm] = []  # every open form, new or not; each removes itself when it closes
        self.selection = Selection(self)
        self.selection.changed.connect(self._selection_shown)
        self.meeting_filter: int | None = None  # set from the side panel's Meetings views
        self._first_load = True
        self._quitting = False
        self.setWindowTitle("SPD Referral Triage")
        self._fit_to_screen()

        self.model = QueueTableModel(
            self.worker, self._db, today=self._today, warning_weeks=self._warning_weeks, parent=self
        )
        self.model.loaded.connect(self._on_loaded)
        self.model.ids_ready.connect(self._on_ids_ready)
        self.model.failed.connect(lambda message: self._error("The queue could not be read", message))
        self._build_table()
        self.sidebar = QueueSidebar()
        self.sidebar.view_chosen.connect(self._sidebar_view)
        self.panel = TriagePanel(clock=self.model.clock)
        self.panel.confirm_requested.connect(self.confirm_triage)
        self.panel.override_requested.connect(self.override_triage)
        self.panel.status_requested.connect(self.move_status)
        self.panel.missing_field_clicked.connect(self.open_form_at)
        self.panel.edit_requested.connect(self.open_selected)
        self._build_filters()
        self._build_banner()
        self._build_read_only_banner()

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
        self._build_actions()
        self._build_status_bar()
        self._restore_layout()
        self._set_enabled(False)

    # --- construction ----------------------------------------------------------------------------------------

    def _build_table(self) -> None:
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Referral queue")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        for column, width in enumerate((50, 110, 180, 45, 100, 55, 330, 200, 140, 140)):
            self.table.setColumnWidth(column, width)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.activated.connect(lambda _index: self.open_selected())

    def _build_filters(self) -> None:
        self.outcome_filter = QComboBox()
        self.outcome_filter.setAccessibleName("Filter by triage outcome")
        self.outcome_filter.addItem("All outcomes", None)
        for outcome in OUTCOMES:
            self.outcome_filter.addItem(OUTCOME_LABELS[outcome], outcome)
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Filter by status")
        self.status_filter.addItem("All statuses", None)
        for status in STATUSES:
            self.status_filter.addItem(STATUS_LABELS[status], status)
        self.flag_filter = QComboBox()
        self.flag_filter.setAccessibleName("Filter by caution")
        self.flag_filter.addItem("Any caution", None)
        for flag, (label, explanation) in FLAGS.items():
            self.flag_filter.addItem(label, flag)
            self.flag_filter.setItemData(self.flag_filter.count() - 1, explanation, Qt.ItemDataRole.ToolTipRole)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search NHS no / name / hospital no  (Ctrl+F)")
        self.search.setAccessibleName("Search the queue")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)
        self._search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.search.returnPressed.connect(self.apply_filters)
        for combo in (self.outcome_filter, self.status_filter, self.flag_filter):
            combo.currentIndexChanged.connect(lambda _index: self.apply_filters())
        bar = QToolBar("Filters")
        bar.setObjectName("filters")
        bar.setMovable(False)
        for label, widget in (
            ("Triage ", self.outcome_filter),
            ("  Status ", self.status_filter),
            ("  Caution ", self.flag_filter),
        ):
            caption = QLabel(label)
            caption.setBuddy(widget)
            bar.addWidget(caption)
            bar.addWidget(widget)
        # The search sits in the menu bar's corner, as the design sketches it: a narrow window folds the filter
        # toolbar into its overflow menu, but the search box always stays on screen.
        self.search.setMinimumWidth(320)
        corner = self._search_corner = QWidget()  # held: PySide does not hand the corner to the menu bar
        corner_layout = QHBoxLayout(corner)
        corner_layout.setContentsMargins(0, 2, 6, 2)
        corner_layout.addWidget(self.search)
        self.menuBar().setCornerWidget(corner)
        self.addToolBar(bar)

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
        self.demo_button.clicked.connect(self.load_demo_data)
        self.new_button = QPushButton("New referral")
        self.new_button.clicked.connect(self.new_referral)
        layout.addWidget(self.banner_text, 1)
        layout.addWidget(self.demo_button)
        layout.addWidget(self.new_button)
        self.banner.hide()

    def _build_read_only_banner(self) -> None:
        """A red banner, hidden until a database that can only be read is opened: what is wrong, what to do."""
        self.read_only_banner = QLabel()
        self.read_only_banner.setObjectName("readOnlyBanner")
        self.read_only_banner.setAccessibleName("The database is open for reading only")
        self.read_only_banner.setWordWrap(True)
        self.read_only_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.read_only_banner.setStyleSheet(
            "QLabel#readOnlyBanner { background: #b00020; color: white; padding: 8px 12px; font-weight: bold; }"
        )
        self.read_only_banner.hide()
        #: A database file found missing or empty at start: the newest verified backup and who may restore it.
        self.lost_offer: Any = None
        #: The question a restore asked (services.maintenance.restore_question), kept for whoever looks (and tests).
        self.restore_asked = ""
        #: The last report shown in a message box (a restore, a backup), kept for whoever looks (and tests).
        self.last_report: QMessageBox | None = None

    def _action(
        self,
        text: str,
        slot: Callable[[], Any],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text.replace("&", ""))
        action.setToolTip(tip or text.replace("&", ""))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.new_action = self._action("&New referral…", self.new_referral, QKeySequence.StandardKey.New)
        self.open_action = self._action(
            "&Open referral", self.open_selected, "Ctrl+O", "Open the selected referral (Enter)"
        )
        self.next_action = self._action("&Next referral", lambda: self.step(1), "Alt+Down")
        self.previous_action = self._action("&Previous referral", lambda: self.step(-1), "Alt+Up")
        self.confirm_action = self._action("&Confirm triage", self.confirm_triage, "Ctrl+Shift+C")
        self.override_action = self._action("O&verride triage…", self.override_triage, "Ctrl+Shift+O")
        self.search_action = self._action("&Search", self.focus_search, QKeySequence.StandardKey.Find)
        self.refresh_action = self._action("&Refresh", self.refresh, QKeySequence.StandardKey.Refresh)
        self.clear_action = self._action("&Clear filters", self.clear_filters, "Ctrl+Shift+L")
        self.demo_action = self._action("Load &demo data…", self.load_demo_data)
        self.backup_action = self._action("&Back up database now", self.backup_now)
        self.restore_action = self._action(
            "Re&store a backup…", self.restore_backup, tip="Put a verified backup in place of a damaged database"
        )
        self.restore_action.setEnabled(False)  # offered on a damaged database, to administrators (_show_read_only)
        self.users_action = self._action("&Users and roles…", self.open_users)
        self.rules_action = self._action(
            "&Rules in force…", self.open_rules, tip="The approved triage rules, who approved them; approve new ones"
        )
        self.breaches_action = self._action(
            "&Breaches first", self.show_breaches_first, "Ctrl+Shift+B", "Order the queue by the 18-week clock"
        )
        self.meetings_action = self._action("&MDT meetings…", self.open_meetings, "Ctrl+M")
        self.about_action = self._action("&About", self.show_about)
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")  # StandardKey.Quit is empty on Windows
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)  # from a form too
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        for action in (
            self.new_action,
            self.demo_action,
            self.backup_action,
            self.restore_action,
            self.users_action,
            self.rules_action,
            self.quit_action,
        ):
            file_menu.addAction(action)
        referral_menu = menus.addMenu("&Referral")
        for action in (
            self.open_action,
            self.next_action,
            self.previous_action,
            self.confirm_action,
            self.override_action,
        ):
            referral_menu.addAction(action)
        meeting_menu = menus.addMenu("&Meeting")
        meeting_menu.addAction(self.meetings_action)
        view_menu = menus.addMenu("&View")
        for action in (self.search_action, self.clear_action, self.refresh_action, self.breaches_action):
            view_menu.addAction(action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self.about_action)
        self.role_actions = (self.confirm_action, self.override_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.user_label = QLabel("Not signed in")
        self.user_label.setAccessibleName("Signed-in user")
        self.count_label = QLabel()
        self.rules_label = QLabel()
        self.saved_label = QLabel()
        legend = QLabel("Wks: ! warning week · ‼ past 18 weeks")
        legend.setToolTip("Colour is never the only signal: the marks carry the same meaning")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setAccessibleName("Working")
        self.busy.hide()
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(150)  # longer than a blink
        self._busy_timer.timeout.connect(self.busy.show)
        self.worker.busy_changed.connect(self._busy)
        for widget in (self.user_label, self.count_label, self.rules_label, legend, self.saved_label):
            bar.addPermanentWidget(widget)
        bar.addPermanentWidget(self.busy)

    def _busy(self, busy: bool) -> None:
        if busy:
            self._busy_timer.start()
        else:
            self._busy_timer.stop()
            self.busy.hide()

    def _fit_to_screen(self) -> None:
        """Roomy on a large screen, never larger than the screen (1366x768 laptops and projectors)."""
        screen = self.screen()
        available = screen.availableGeometry() if screen is not None else None
        width, height = 1400, 860
        if available is not None:
            width, height = min(width, available.width()), min(height, available.height())
        self.resize(width, height)

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

    @property
    def session(self) -> Any:
        """The open `AppSession` (None before it opens): the context holds it."""
        return self.context.session

    @session.setter
    def session(self, session: Any) -> None:
        self.context.set_session(session)

    def _db(self) -> Any:
        return self.session.db

    def _today(self) -> Any:
        from triage_app.services.app import local_today

        return local_today()

    def _warning_weeks(self) -> int:
        return self.session.rules.rtt_warning_weeks if self.session is not None else 12

    def database_description(self) -> str:
        """Where the open database is."""
        return "" if self.session is None else self.session.db.location.describe()

    def open_session(self) -> None:
        """Open, back up and migrate the database on the worker, then sign in."""
        paths, login = self.paths, self.login

        def task() -> Any:
            from triage_app.services.app import local_today, open_session

            session = open_session(
                paths.db_url,
                backup_dir=paths.backup_dir,
                today=local_today(),
                login=login,
                allow_read_only=True,  # a damaged, read-only or full database opens read-only, with a banner
            )
            session.db.thread_guard = gui_thread_guard
            return session

        self.worker.submit(task, self._on_session, self._on_session_error)

    def _on_session(self, session: Any) -> None:
        self.session = session
        actor = session.actor
        self.user_label.setText(f"Signed in: {actor.display_name} ({actor.describe_roles()})")
        self.show_rules_in_force()
        self._set_enabled(True)
        self._apply_roles()  # after enabling: roles switch some actions off again
        self._show_read_only(session)
        self._selection_shown()  # and actions on a referral wait for one to be selected
        self.apply_filters()
        self.refresh_counts()
        self._daily_backup()  # queued after the first page and the counts: never on the path to them
        self.session_ready.emit()
        if not self.settings.value("intended_use/shown", False, type=bool) and not self.property("smoke"):
            self.settings.setValue("intended_use/shown", True)
            self._sync_settings()
            Messages.intended_use(self)  # what the app does and does not do, once on each desktop

    @property
    def read_only(self) -> str | None:
        """Why the open database can only be read (what is wrong and what to do), or None."""
        return None if self.session is None else self.session.read_only

    def _show_read_only(self, session: Any) -> None:
        """A database that can only be read: the red banner says why and what to do; writing actions are off."""
        from triage_app.services.permissions import RESTORE_BACKUP
        from triage_app.storage.preflight import ReadOnlyKind

        kind = session.read_only_kind
        restorer = kind is ReadOnlyKind.DAMAGED and self.may(RESTORE_BACKUP)
        self.restore_action.setEnabled(restorer)
        self.restore_action.setToolTip(
            "Put a verified backup in place of the damaged database"
            if restorer
            else "Offered to administrators when the database is damaged (or: triage-app restore BACKUP)"
        )
        if session.read_only is None:
            self.read_only_banner.hide()
            self.demo_button.show()
            self.setWindowTitle("SPD Referral Triage")
            return
        if kind is ReadOnlyKind.DAMAGED:
            backup = session.newest_backup
            if backup is not None:
                todo = (
                    f"The newest verified backup is {backup.name}. An administrator restores it with "
                    f"File > Restore a backup… or the command: triage-app restore {backup.name}"
                    + ("" if restorer else " (you are not an administrator: ask one)")
                )
            else:
                todo = "No verified backup was found: do not delete the database file, ask the unit's IT contact."
            headline = "The database is damaged. It is open for reading only: nothing can be changed or saved."
        elif kind is ReadOnlyKind.DISK_FULL:
            headline = "The disk is full. The database is open for reading only: nothing can be changed or saved."
            todo = "Free space on the disk, then restart the app."
        else:
            headline = "The database cannot be written. It is open for reading only: nothing can be changed or saved."
            todo = "Ask the unit's IT contact to make the database file and its folder writable, then restart the app."
        # What SQLite found (and the backup, again, in full) is for IT: on the tooltip, so the banner stays two
        # lines on a small screen.
        self.read_only_banner.setText(f"{headline}\n{todo}")
        self.read_only_banner.setToolTip(f"Details: {session.read_only}")
        self.read_only_banner.show()
        off = "The database is open for reading only: " + (
            "it is damaged"
            if kind is ReadOnlyKind.DAMAGED
            else "the disk is full"
            if kind is ReadOnlyKind.DISK_FULL
            else "it cannot be written"
        )
        for control in (self.rules_action, self.open_action):  # the form and Approve would only be refused
            control.setEnabled(False)
            control.setToolTip(off)
        self.demo_button.hide()
        self.setWindowTitle("SPD Referral Triage — READ ONLY")

    def _read_only_off(self) -> str:
        return "Not while the database is open for reading only (see the red banner)"

    @staticmethod
    def _read_only_short() -> str:
        """The status line's refusal: short enough to read beside the permanent labels; the banner says why."""
        return "Read only: see the red banner"

    def show_report(self, title: str, text: str) -> QMessageBox:
        """A result shown in full in a message box that does not block (a restore, a backup)."""
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()
        self.last_report = box
        return box

    def _daily_backup(self) -> None:
        """The day's verified backup, on a worker of its own after the first page: never on the path to the window.

        A large database takes a while to copy and check; on its own worker the queue and the panel stay
        responsive meanwhile. Never for a database open read-only.
        """
        if self.session is None or self.session.read_only is not None:
            return
        from triage_app.services.app import daily_backup

        db, backup_dir = self._db(), self.paths.backup_dir
        if getattr(self, "maintenance", None) is None:
            self.maintenance = DbWorker(self)

        def done(target: Any) -> None:
            from triage_app.services.app import backup_audit_problem

            if target is None:
                return
            problem = backup_audit_problem(backup_dir, target)
            if problem is None:
                self.statusBar().showMessage(f"Today's backup taken: {target.name}", 10_000)
                return
            # The daily backup is the app's daily look at the audit trail: a problem is said, not only logged.
            self.statusBar().showMessage("The audit trail did not verify: see the message", 60_000)
            Messages.error(
                self,
                "The audit trail did not verify",
                f"Today's backup found a problem with the audit trail: {problem}.\n\nThe backup {target.name} was "
                "kept and marked. Tell the unit's administrator; `triage-app audit verify` shows every problem.",
            )

        def failed(error: BaseException) -> None:
            log.error("daily backup failed: %s", type(error).__name__)
            self.statusBar().showMessage(f"Today's backup could not be taken: {error}", 60_000)

        self.maintenance.submit(lambda: daily_backup(db, backup_dir), done, failed)

    def show_rules_in_force(self) -> None:
        """Name the approved rules in force, and who approved them, in the status bar and on the triage panel."""
        from triage_app.domain.rules_changes import approval_line

        line = approval_line(self.session.approval)
        self.rules_label.setText(line)
        self.panel.set_rules_line(line, self.session.approval.version)

    def _on_session_error(self, error: BaseException) -> None:
        from triage_app.services.app import is_lost_database

        message = str(error)
        log.error("could not open the database: %s", type(error).__name__)
        self.demo_button.hide()
        self.new_button.hide()
        if is_lost_database(error):
            self._show_lost_database(error)
        else:
            self.banner_text.setText(f"The referral database could not be opened.\n\n{message}")
            self.banner.show()
        self.session_failed.emit(message)
        if not self.property("smoke"):
            Messages.error(self, "Cannot open the referral database", message)

    def _lost_headline(self, error: BaseException) -> str:
        from triage_app.storage.engine import EmptyDatabaseFile

        what = "is empty (0 bytes)" if isinstance(error, EmptyDatabaseFile) else "is missing"
        return f"The database file {what}. Nothing was created in its place: nothing can be shown or saved."

    def _show_lost_database(self, error: BaseException) -> None:
        """A missing or emptied database file: the red banner says so (wrapped), and, once the backup has been read
        on the worker, offers File > Restore a backup… to an administrator of the newest verified backup."""
        headline = self._lost_headline(error)
        self.read_only_banner.setText(f"{headline}\nDetails: {error}")
        self.read_only_banner.show()
        self.setWindowTitle("SPD Referral Triage — NO DATABASE")
        from triage_app.services.app import restore_offer

        paths, login = self.paths, self.login

        def offered(offer: Any) -> None:
            self.lost_offer = offer
            if offer.backup is None:
                todo = "No verified backup was found: ask the unit's IT contact where the database file went."
            else:
                todo = (
                    f"The newest verified backup is {offer.backup.name}. An administrator restores it with "
                    f"File > Restore a backup… or the command: triage-app restore {offer.backup.name}"
                    + ("" if offer.may_restore else f" ({offer.why_not}: ask an administrator)")
                )
            self.read_only_banner.setText(f"{headline}\n{todo}\nDetails: {error}")
            self.restore_action.setEnabled(offer.may_restore)
            self.restore_action.setToolTip(
                f"Put {offer.backup.name} in place of the lost database file"
                if offer.may_restore
                else f"Offered to administrators of the newest verified backup ({offer.why_not})"
            )

        self.worker.submit(
            lambda: restore_offer(paths.db_url, backup_dir=paths.backup_dir, login=login),
            offered,
            lambda exc: log.error("the backups could not be read for a restore: %s", type(exc).__name__),
        )

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (
            self.table,
            self.sidebar,
            self.outcome_filter,
            self.status_filter,
            self.flag_filter,
            self.search,
        ):
            widget.setEnabled(enabled)
        for action in (
            self.new_action,
            self.open_action,
            self.demo_action,
            self.backup_action,
            self.refresh_action,
            self.meetings_action,
            self.rules_action,
            self.breaches_action,
        ):
            action.setEnabled(enabled)
        if not enabled:
            self.users_action.setEnabled(False)
            for action in self.role_actions:
                action.setEnabled(False)

    def may(self, action: str) -> bool:
        """Whether the signed-in user's roles allow the action (services.permissions); the service decides.

        With the database open for reading only, no action that writes is allowed (services.app).
        """
        from triage_app.services.app import allowed_read_only

        if self.session is None or not actor_may(self.session.actor, action):
            return False
        return self.session.read_only is None or allowed_read_only(action)

    def _apply_roles(self) -> None:
        """Each control is enabled by the role matrix; a disabled one says who may use it."""
        for action_name, controls, allowed_tip in (
            (CONFIRM_TRIAGE, (self.confirm_action,), "Confirm triage"),
            (OVERRIDE_TRIAGE, (self.override_action,), "Override triage…"),
            (ENTER_REFERRAL, (self.new_action, self.new_button), "New referral"),
            (MANAGE_USERS, (self.users_action,), "Users and roles"),
            (VIEW_RULES, (self.rules_action,), "The approved triage rules, who approved them; approve new ones"),
            (LOAD_DEMO, (self.demo_action, self.demo_button), None),
            (BACKUP, (self.backup_action,), "Back up database now"),
            (VIEW_MEETINGS, (self.meetings_action,), "MDT meetings"),
        ):
            allowed = self.may(action_name)
            refused = NOT_CONSULTANT if action_name in (CONFIRM_TRIAGE, OVERRIDE_TRIAGE) else who_may(action_name)
            if self.read_only is not None and actor_may(self.session.actor, action_name):
                refused = self._read_only_off()
            for control in controls:
                control.setEnabled(allowed)
                if not allowed:
                    control.setToolTip(refused)
                elif allowed_tip is not None:
                    control.setToolTip(allowed_tip)

    # --- the queue -------------------------------------------------------------------------------------------

    def current_filter(self) -> Any:
        """The filter the controls describe."""
        from triage_app.services.queue import QueueFilter

        return QueueFilter(
            outcome=self.outcome_filter.currentData(),
            status=self.status_filter.currentData(),
            flag=self.flag_filter.currentData(),
            search=self.search.text().strip() or None,
            meeting_id=self.meeting_filter,
        )

    def apply_filters(self) -> None:
        """Load the queue for the current filter, keeping the current sort."""
        self._search_timer.stop()
        if self.session is None:
            return
        view = self.model.view
        sort, descending = (view.sort, view.descending) if view is not None else ("priority", True)
        self.model.load(QueueView(self.current_filter(), sort, descending))

    def _sidebar_view(self, kind: str, value: Any) -> None:
        self.meeting_filter = value if kind == "meeting" else None
        combos = {"outcome": self.outcome_filter, "status": self.status_filter, "flag": self.flag_filter}
        for combo in combos.values():
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
        if kind in combos:
            combos[kind].setCurrentIndex(max(combos[kind].findData(value), 0))
        for combo in combos.values():
            combo.blockSignals(False)
        self.apply_filters()

    def clear_filters(self) -> None:
        """Back to the whole queue."""
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._sidebar_view("all", None)

    def focus_search(self) -> None:
        """Ctrl+F: type to search."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def refresh(self) -> None:
        """F5 (and after the meeting window changed something): read the rules in force, the queue, the counts and
        the panel again."""
        if self.session is not None:  # another desktop may have approved newer rules: score with those from now on
            self.worker.submit(
                self.session.reload_rules, lambda _approval: self.show_rules_in_force(), self._on_worker_error("Rules")
            )
        self.apply_filters()
        self.refresh_counts()
        if self.selection.referral_id is not None:
            self.show_detail(self.selection.referral_id)

    def refresh_counts(self) -> None:
        """Update the side panel's counts in the background."""
        if self.session is None:
            return
        from triage_app.services import queue

        db, actor = self._db(), self.session.actor
        clock = self.model.clock()  # the RTT count of today, as the RTT view lists it
        self.worker.submit(
            lambda: queue.counts(db, actor=actor, clock=clock), self._on_counts, self._on_worker_error("Counts")
        )

    def _on_counts(self, counts: Any) -> None:
        self.sidebar.set_counts(counts)
        filtering = any(
            (
                self.outcome_filter.currentData(),
                self.status_filter.currentData(),
                self.flag_filter.currentData(),
                self.search.text().strip(),
            )
        )
        empty = counts.total == 0 and not filtering
        self.banner_text.setText(
            "The queue is empty. Enter the first referral, or load invented demo referrals to try the app."
        )
        self.banner.setVisible(empty)

    def _on_loaded(self, total: int) -> None:
        """A new view's first page is in: keep the selected referral if it is still shown, else clear it."""
        self.count_label.setText(f"{total:,} referrals shown")
        wanted = self.selection.referral_id
        if wanted is not None:
            row = self.model.row_of(wanted)
            if row is not None:
                self._select_row(row)
            elif self.model.all_ids_known:
                self.selection.select(None)  # it left the view: the panel clears and its actions disable
            else:
                self.selection.hold()  # decided when every id of the view has arrived
        elif self._first_load and total:
            self._select_row(0)
        self._first_load = False

    def _on_ids_ready(self) -> None:
        wanted = self.selection.referral_id
        if wanted is None:
            return
        row = self.model.row_of(wanted)
        if row is None:
            self.selection.select(None)
        else:
            self._select_row(row)
            if self.selection.detail is None:
                self.show_detail(wanted)

    def _select_row(self, row: int) -> None:
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))

    def _selection_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        referral_id = self.model.data(current, ID_ROLE) if current.isValid() else None
        if self.selection.select(referral_id) or (referral_id is not None and self.selection.detail is None):
            self.show_detail(referral_id)

    def _selection_shown(self) -> None:
        """The panel and every action follow the selection."""
        detail = self.selection.detail
        self.panel.show_detail(detail, self.session.actor if self.session is not None else None)
        has_row = self.selection.referral_id is not None and self.session is not None
        self.open_action.setEnabled(has_row and self.read_only is None)
        if self.read_only is not None:  # the panel's confirm, override, edit and status moves would write
            for widget in (
                self.panel.confirm_button,
                self.panel.override_button,
                self.panel.edit_button,
                self.panel.status_combo,
                self.panel.status_button,
            ):
                widget.setEnabled(False)
                widget.setToolTip(self._read_only_off())
        self.confirm_action.setEnabled(
            self.may(CONFIRM_TRIAGE) and detail is not None and self.panel.confirm_button.isEnabled()
        )
        self.override_action.setEnabled(
            self.may(OVERRIDE_TRIAGE) and detail is not None and self.panel.override_button.isEnabled()
        )

    def acting_on(self) -> Any:
        """The referral an action may act on: the selected row of the current view, with its detail loaded.

        None when no row is selected, the detail is still loading, or the row is no longer the table's current one.
        """
        if self._search_timer.isActive():  # a search typed but not yet applied: the row may be about to leave
            self.apply_filters()
            return None
        detail = self.selection.detail
        current = self.table.currentIndex()
        if detail is None or not current.isValid() or self.model.data(current, ID_ROLE) != detail.row.id:
            return None
        return detail

    def show_detail(self, referral_id: int | None) -> None:
        """Fetch and show the triage panel for a referral."""
        if referral_id is None or self.session is None:
            self.selection.select(None)
            return
        from triage_app.services.referrals import get_referral

        db, actor = self._db(), self.session.actor

        def shown(detail: Any) -> None:
            self.selection.set_detail(detail)
            if self.selection.detail is detail:
                self.detail_shown.emit(detail.row.id)

        self.worker.submit(
            lambda: get_referral(db, referral_id=referral_id, actor=actor), shown, self._on_worker_error("Referral")
        )

    @property
    def detail(self) -> Any:
        """The selected referral's detail (None when nothing is selected)."""
        return self.selection.detail

    def step(self, offset: int) -> None:
        """Next / previous referral in the queue."""
        row = self.table.currentIndex().row()
        target = max(0, min(self.model.rowCount() - 1, row + offset if row >= 0 else 0))
        if self.model.rowCount():
            self.table.selectRow(target)
            self.table.scrollTo(self.model.index(target, 0))

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if not getattr(self, "_selection_wired", False):
            self.table.selectionModel().currentRowChanged.connect(self._selection_changed)
            self._selection_wired = True

    # --- referral form ---------------------------------------------------------------------------------------

    def new_referral(self) -> None:
        """Ctrl+N: an empty referral form."""
        if self.session is None or not self.may(ENTER_REFERRAL):
            return
        form = self._show_form(None, None, None)
        form.activateWindow()
        form.focus_field("patient.nhs_number")  # a coordinator types the NHS number first

    def open_selected(self, focus_path: str | None = None) -> None:
        """Enter / double-click / Edit: the selected referral's form (loaded fresh)."""
        if self.selection.referral_id is None or self.session is None:
            return
        if self.read_only is not None:  # the form edits: the panel shows the referral instead
            self.statusBar().showMessage(self._read_only_short(), 10_000)
            return
        self.open_referral(self.selection.referral_id, focus_path)

    def form_for(self, referral_id: int | None) -> ReferralForm | None:
        """The open form of a stored referral, if there is one."""
        if referral_id is None:
            return None
        return next((f for f in self.forms if f.referral_id == referral_id), None)

    def open_referral(self, referral_id: int, focus_path: str | None = None) -> None:
        """Open a referral's form, or bring its open form forward."""
        form = self.form_for(referral_id)
        if form is not None:
            form.raise_()
            form.activateWindow()
            if focus_path:
                form.focus_field(focus_path)
            return
        from triage_app.services.referrals import get_referral

        db, actor = self._db(), self.session.actor

        def opened(detail: Any) -> None:
            existing = self.form_for(referral_id)  # opened twice quickly: one form only
            form = existing or self._show_form(detail.referral, detail.row.id, detail.row.version)
            if focus_path:
                form.focus_field(focus_path)

        self.worker.submit(
            lambda: get_referral(db, referral_id=referral_id, actor=actor), opened, self._on_worker_error("Referral")
        )

    def open_form_at(self, path: str) -> None:
        """A missing-field link: open the form with the cursor in that field."""
        self.open_selected(focus_path=path)

    def _show_form(self, referral: Any, referral_id: int | None, version: int | None) -> ReferralForm:
        form = ReferralForm(
            rules=self.session.rules,
            as_of=self._today(),
            referral=referral,
            referral_id=referral_id,
            version=version,
            parent=self,
        )
        form.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.forms.append(form)
        form.closed.connect(self._form_closed)
        form.save_requested.connect(lambda parsed, rid, ver, f=form: self._save_form(f, parsed, rid, ver))
        form.nhs_number_entered.connect(lambda nhs, f=form: self._look_up_patient(f, nhs))
        form.open_existing_requested.connect(self.open_referral)
        form.show()
        return form

    def _form_closed(self, form: ReferralForm) -> None:
        if form in self.forms:
            self.forms.remove(form)
        if self._quitting and not any(f.dirty or f.closing_after_save for f in self.forms):
            QTimer.singleShot(0, self.close)  # the last unsaved form was saved and closed: go on quitting

    def _look_up_patient(self, form: ReferralForm, nhs_number: str) -> None:
        from triage_app.services.referrals import patient_referrals

        db, actor, except_id = self._db(), self.session.actor, form.referral_id

        def found(referrals: Any) -> None:
            if form in self.forms:
                form.show_existing(referrals)

        self.worker.submit(
            lambda: patient_referrals(db, nhs_number=nhs_number, except_id=except_id, actor=actor),
            found,
            self._on_worker_error("Patient look-up"),
        )

    def _save_form(
        self,
        form: ReferralForm,
        referral: Any,
        referral_id: int | None,
        version: int | None,
        *,
        demographics_confirmed: bool = False,
        second_referral_reason: str | None = None,
    ) -> None:
        from triage_app.services import referrals
        from triage_app.services.errors import (
            ConflictError,
            DemographicsMismatch,
            IdentityIncomplete,
            OpenReferralExists,
        )

        db, actor, rules, today = self._db(), self.session.actor, self.session.rules, self._today()

        def task() -> Any:
            if referral_id is None:
                return referrals.register_referral(
                    db,
                    actor=actor,
                    referral=referral,
                    rules=rules,
                    as_of=today,
                    demographics_confirmed=demographics_confirmed,
                    second_referral_reason=second_referral_reason,
                )
            return referrals.update_referral(
                db,
                actor=actor,
                referral_id=referral_id,
                expected_version=version or 0,
                referral=referral,
                rules=rules,
                as_of=today,
                demographics_confirmed=demographics_confirmed,
                second_referral_reason=second_referral_reason,
            )

        def saved(result: Any) -> None:
            if referral_id is None:  # a new referral: show it, selected, once the queue reloads
                self.selection.select(result.referral_id)
            form.save_finished(result.referral_id, result.version)
            self.saved_label.setText(f"saved {self._now()}")
            self._after_change(result.changes)

        def again(**confirmations: Any) -> None:
            self._save_form(
                form,
                referral,
                referral_id,
                version,
                demographics_confirmed=confirmations.get("demographics", demographics_confirmed),
                second_referral_reason=confirmations.get("reason", second_referral_reason),
            )

        def failed(error: BaseException) -> None:
            self._quitting = False  # a save on the way out failed: stay, with the form open
            who = referral_patient_line(referral)
            if isinstance(error, ConflictError):
                self._resolve_conflict(form, referral, error)
            elif isinstance(error, IdentityIncomplete):
                form.save_failed(str(error))
                form.show_field_errors(error.errors)
            elif isinstance(error, DemographicsMismatch):
                form.save_failed("the demographics differ from the stored patient")
                if Messages.confirm(
                    form,
                    "Different demographics for this NHS number",
                    f"{error}\n\nThis referral: {who}\n\nStore it as the same patient whose demographics changed?",
                ):
                    form.mark_saving()
                    again(demographics=True)
            elif isinstance(error, OpenReferralExists):
                form.save_failed("the patient already has an open referral")
                answer = ReasonDialog.ask(
                    "Possible duplicate referral",
                    f"{who}\n\n{error}",
                    form,
                    other_choice=f"Open referral {error.existing_id}",
                )
                if answer == OPEN_EXISTING:
                    self.open_referral(error.existing_id)
                elif answer:
                    form.mark_saving()
                    again(reason=answer)
            else:
                form.save_failed(str(error))
                Messages.error(form, "The referral was not saved", str(error))

        self.worker.submit(task, saved, failed)

    def _resolve_conflict(self, form: ReferralForm, mine: Any, conflict: Any) -> None:
        from triage_app.services.referrals import get_referral

        db, actor = self._db(), self.session.actor

        def compare(detail: Any) -> None:
            form.save_failed("someone else changed this referral")
            choice = ConflictDialog.ask(str(conflict), mine, detail.referral, form)
            if choice == RELOAD:
                form.load(detail.referral, version=detail.row.version)
            elif choice != CANCEL:  # only the fields I changed go on top of theirs; the user saves again
                form.rebase(detail.referral, detail.row.version)
                form.status.setText("Your changes are kept on top of the saved version: check them, then save.")

        self.worker.submit(
            lambda: get_referral(db, referral_id=conflict.referral_id, actor=actor),
            compare,
            self._on_worker_error("Referral"),
        )

    # --- consultant actions and workflow ------------------------------------------------------------------------

    def confirm_triage(self) -> None:
        """Record the consultant's confirmation of the outcome, after naming the patient it acts on."""
        detail = self.acting_on()
        if detail is None or self.session is None:
            self.statusBar().showMessage("Select a referral in the queue first", 5000)
            return
        if not self.may(CONFIRM_TRIAGE):
            Messages.error(self, "Not allowed", NOT_CONSULTANT)
            return
        shown = triage_text(detail.row.outcome, None, None).replace(" (awaiting consultant)", "")
        if Messages.confirm(
            self,
            "Confirm triage",
            f"Confirm the triage of\n\n{referral_patient_line(detail.referral)}\n\nas {shown}?"
            + self._leaves_meeting(detail, detail.row.outcome),
        ):
            self._decide(detail, None, None)

    def override_triage(self) -> None:
        """Record a different outcome with the consultant's written reason."""
        detail = self.acting_on()
        if detail is None or self.session is None:
            self.statusBar().showMessage("Select a referral in the queue first", 5000)
            return
        if not self.may(OVERRIDE_TRIAGE):
            Messages.error(self, "Not allowed", NOT_CONSULTANT)
            return
        answer = OverrideDialog.ask(detail.row.outcome, referral_patient_line(detail.referral), self)
        if answer is None or self.acting_on() is not detail:
            return
        leaving = self._leaves_meeting(detail, answer[0])
        if leaving and not Messages.confirm(self, "Override triage", referral_patient_line(detail.referral) + leaving):
            return
        self._decide(detail, *answer)

    @staticmethod
    def _leaves_meeting(detail: Any, outcome: str | None) -> str:
        """What a decision other than ready for MDT does to a listed referral, said before it is made."""
        if detail.row.status == "listed" and outcome != "ready_for_mdt":
            return "\n\nIt is listed for an MDT meeting: decided otherwise than ready for MDT, it leaves that meeting."
        return ""

    def _decide(self, detail: Any, outcome: str | None, reason: str | None) -> None:
        from triage_app.services.triage import decide_triage

        db, actor = self._db(), self.session.actor
        self.worker.submit(
            lambda: decide_triage(
                db,
                actor=actor,
                referral_id=detail.row.id,
                expected_version=detail.row.version,
                override_outcome=outcome,
                reason=reason,
                expected_assessment_id=detail.row.current_assessment_id,
            ),
            lambda result: self._after_change(result.changes),
            self._on_worker_error("Triage decision not recorded"),
        )

    def move_status(self, status: str) -> None:
        """Move the selected referral along the workflow (closing an undiscussed one asks for a reason)."""
        detail = self.acting_on()
        if detail is None or self.session is None:
            return
        from triage_app.services.triage import change_status

        note = None
        if move_needs_reason(detail.row.status, status):
            note = ReasonDialog.ask(
                "Close referral",
                f"Close the referral of\n\n{referral_patient_line(detail.referral)}\n\nThe MDT has not "
                "discussed it: write why it is closed.",
                self,
            )
            if not note or note == OPEN_EXISTING:
                return
        db, actor = self._db(), self.session.actor
        self.worker.submit(
            lambda: change_status(
                db,
                actor=actor,
                referral_id=detail.row.id,
                expected_version=detail.row.version,
                status=status,
                note=note,
            ),
            lambda result: self._after_change(result.changes),
            self._on_worker_error("Status not changed"),
        )

    def _after_change(self, changes: Any) -> None:
        """Views refresh themselves from what a mutation reports."""
        self.saved_label.setText(f"saved {self._now()}")
        selected = self.selection.referral_id
        if selected is not None and selected in changes.referral_ids:
            self.show_detail(selected)
        self.apply_filters()
        self.refresh_counts()
        self.changes_applied.emit(changes)

    # --- other actions ---------------------------------------------------------------------------------------

    def load_demo_data(self) -> None:
        """Admin: add invented referrals so a newcomer sees a working queue (never among real referrals)."""
        if self.session is None or not self.may(LOAD_DEMO):
            return
        if not Messages.confirm(
            self,
            "Load demo data",
            f"Add {DEMO_COUNT} invented referrals (test-range NHS numbers 999 000 0000-999 999 9999) to this "
            "database? Use this on a trial database, not on the unit's live queue.",
        ):
            return
        from triage_app.services.demo import load_demo

        db, actor, rules, today = self._db(), self.session.actor, self.session.rules, self._today()
        self.worker.submit(
            lambda: load_demo(db, actor=actor, rules=rules, as_of=today, count=DEMO_COUNT),
            lambda _added: self._after_change(whole_queue_changed()),
            self._on_worker_error("Demo data not loaded"),
        )

    def backup_now(self) -> None:
        """Take an online backup and say where it went."""
        if self.session is None:
            return
        from triage_app.services.maintenance import take_verified_backup

        db, actor, backup_dir = self._db(), self.session.actor, self.paths.backup_dir
        self.worker.submit(
            lambda: take_verified_backup(db, actor=actor, backup_dir=backup_dir),
            self._backed_up,
            self._on_worker_error("Backup failed"),
        )

    def _backed_up(self, backup: Any) -> None:
        """A short status line (its full text as the tooltip), and the whole report in a message box."""
        text = (
            f"Backed up to {backup.path.name}\nin the folder {backup.path.parent}\n\n"
            f"Verified: {backup.describe_verification()}; SHA-256 {backup.entry.sha256[:16]}… recorded in the "
            "backups folder's manifest."
        )
        self.statusBar().showMessage(f"Backed up: {backup.path.name}", 15_000)
        self.statusBar().setToolTip(text)
        problem = backup.entry.audit_problem
        if problem is not None:  # kept (never lose data) but marked: said as a warning, not a plain report
            Messages.error(
                self,
                "Backup taken: the audit trail did not verify",
                f"{text}\n\nThe audit trail did not verify: {problem}. The backup was kept and marked; it is never "
                "offered for a restore. Tell the unit's administrator; `triage-app audit verify` shows every problem.",
            )
            return
        self.show_report("Backup taken", text)

    @classmethod
    def choose_backup_file(cls, parent: QWidget, folder: Path) -> Path | None:
        """Ask which backup to restore (tests patch this); None when the user cancels."""
        from PySide6.QtWidgets import QFileDialog

        name, _ = QFileDialog.getOpenFileName(
            parent, "Restore a backup", str(folder), "Triage database backups (*.sqlite3)"
        )
        return Path(name) if name else None

    def restore_backup(self) -> None:
        """Administrators, on a damaged database: put the newest verified backup (or a chosen one) in its place.

        The damaged file and its -wal/-shm are kept aside (services.maintenance); the window's own connections are
        closed first (a restore refuses while anyone has the database open), and the database is opened again
        afterwards, so the banner goes when the restored database is sound.
        """
        from triage_app.services.permissions import RESTORE_BACKUP
        from triage_app.storage.engine import parse_database_url

        session = self.session
        if session is not None:
            if not self.may(RESTORE_BACKUP):
                return
            backup = session.newest_backup or self.choose_backup_file(self, self.paths.backup_dir)
            login, what = session.actor.login, "the damaged database"
        else:  # no session: the file is missing or empty; the backup's administrators restore (restore_offer)
            offer = self.lost_offer
            if offer is None or not offer.may_restore:
                return
            lost = parse_database_url(self.paths.db_url).path
            what = "the empty database file" if lost is not None and lost.exists() else "the missing database file"
            backup, login = offer.backup, offer.login
        if backup is None:
            return
        from triage_app.services.maintenance import restore_backup, restore_question

        location, backup_dir = parse_database_url(self.paths.db_url), self.paths.backup_dir
        if location.path is None:
            return
        self.restore_asked = restore_question(location.path, backup, backup_dir=backup_dir, replacing=what)
        if not Messages.confirm(self, "Restore a backup", self.restore_asked):
            return

        def task() -> Any:
            if session is not None:
                session.db.dispose()  # our own connections would make the restore refuse ("in use")
            return restore_backup(location, backup, login=login, backup_dir=backup_dir)

        def restored(report: Any) -> None:
            self.statusBar().showMessage(f"Restored {report.backup.name}: opening it again", 30_000)
            self.show_report("Backup restored", restore_report_text(report))
            if self.session is not None:
                self.session.close()
            self.session = None
            self.lost_offer = None
            self.banner.hide()
            self.restore_action.setEnabled(False)
            self._set_enabled(False)
            self.open_session()  # reopened: checked again, and writable if the restored database is sound

        self.worker.submit(task, restored, self._on_worker_error("The backup was not restored"))

    def open_meetings(self) -> Any:
        """Ctrl+M: the MDT meetings window (one per main window)."""
        if self.session is None:
            return None
        from triage_app.ui.meeting_window import MeetingWindow

        if getattr(self, "meeting_window", None) is None:
            self.meeting_window = MeetingWindow(self)
            self.meeting_window.changed.connect(self.refresh)
        self.meeting_window.show()
        self.meeting_window.raise_()
        self.meeting_window.refresh()
        return self.meeting_window

    def open_users(self) -> Any:
        """Administrators: the users and their roles."""
        if not self.may(MANAGE_USERS):
            return None
        from triage_app.ui.users_dialog import UsersDialog

        dialog = UsersDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def open_rules(self) -> Any:
        """The rules in force and who approved them (anyone with a role); administrators approve new ones."""
        if not self.may(VIEW_RULES):
            return None
        from triage_app.ui.rules_dialog import open_rules_dialog

        return open_rules_dialog(self)

    def show_breaches_first(self) -> None:
        """Order the view by the 18-week clock: 18 weeks or more, then the warning weeks, then the rest."""
        self.table.sortByColumn(COL_WEEKS, Qt.SortOrder.DescendingOrder)  # the header's arrow says so too

    def show_about(self) -> None:
        """Version and rules version."""
        Messages.about(self, self.session.rules.version if self.session else "not loaded")

    def _report_failure(self, title: str, error: BaseException) -> None:
        """The context's failure report: a failed op said to the user as `_on_worker_error` says it."""
        self._on_worker_error(title)(error)

    def _on_worker_error(self, title: str) -> Callable[[BaseException], None]:
        def report(error: BaseException) -> None:
            from triage_app.services.errors import PermissionDenied

            log.error("%s: %s", title, type(error).__name__)
            if self.read_only is not None and _is_damage(error):
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
            self.apply_filters()  # a refusal often means the data moved on: the queue and the panel catch up
            if self.selection.referral_id is not None:
                self.show_detail(self.selection.referral_id)

        return report

    def _error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}", 15_000)
        Messages.error(self, title, message)

    @staticmethod
    def _now() -> str:
        from datetime import datetime

        return datetime.now().astimezone().strftime("%H:%M")

    # --- closing ---------------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Quitting asks about every unsaved form; one saved on the way closes when its save lands."""
        self._quitting = True
        meeting_window = getattr(self, "meeting_window", None)
        if meeting_window is not None and meeting_window.isVisible() and not meeting_window.close():
            self._quitting = False
            event.ignore()
            return
        for form in [f for f in self.forms if f.dirty]:  # unsaved ones first: a Cancel leaves every form open
            form.close()
            if form in self.forms and not form.closing_after_save:  # the user chose Cancel
                self._quitting = False
                event.ignore()
                return
        for form in [f for f in self.forms if not f.dirty and not f.closing_after_save]:
            form.close()
        if self.forms:  # saves in flight: quit once they land (or stop if one fails)
            event.ignore()
            return
        self.save_layout()
        event.accept()

    def shutdown(self) -> None:
        """Finish background work and close the database."""
        if getattr(self, "maintenance", None) is not None:
            self.maintenance.shutdown()  # a daily backup under way is finished (a kill leaves only a partial file)
        self.worker.shutdown()
        if self.session is not None:
            self.session.close()


def restore_report_text(report: Any) -> str:
    """The whole of a restore's report (services.maintenance.RestoreReport), for its message box."""
    when = report.taken_at.strftime("%Y-%m-%d %H:%M UTC") if report.taken_at is not None else "not in the manifest"
    from triage_app.storage.integrity import describe_counts

    kept = (
        f"The replaced files were kept in {report.replaced_dir}: {', '.join(p.name for p in report.moved)}."
        if report.replaced_dir is not None
        else "Nothing was kept aside: there was no database file."
    )
    verified = "its SHA-256 matches the manifest" if report.listed else "not in the manifest: fully checked now"
    return (
        f"Restored the backup {report.backup.name}\ntaken {when}: {describe_counts(report.row_counts)}.\n\n"
        f"Verified: integrity ok; {verified}; schema {report.schema_revision}.\n"
        f"{kept}\n"
        f"Administrator checked in {report.authorized_in}.\n"
        f"The restore is recorded in the audit trail; {report.checkpoint}."
    )


def whole_queue_changed() -> Any:
    """What a change to the whole queue (demo data) reports."""
    from triage_app.services.changes import Changes

    return Changes()


__all__ = ["COLUMNS", "MainWindow"]
