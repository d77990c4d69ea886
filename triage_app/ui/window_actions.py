"""The main window's surface: menus, shortcuts and status bar, which of them are enabled (roles, read-only,
selection), and the parts' controls as menus, other windows and tests reach them through the window.

A mixin of `MainWindow`: the actions call the parts the window built (`queue`, `forms_owner`, `consultant`,
`maintenance_actions`) and open the dialogs, each given the `AppContext` rather than the window.

Why one module (about 400 lines): it is the window's one surface, and the enabling of each control (roles,
read-only, selection) must stay beside the control it enables; the rest of the window is in main_window.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QMainWindow, QProgressBar

from triage_app.services.permissions import (
    BACKUP,
    CONFIRM_TRIAGE,
    EDIT_REFERRAL,
    ENTER_REFERRAL,
    IMPORT_REFERRALS,
    LOAD_DEMO,
    MANAGE_USERS,
    OVERRIDE_TRIAGE,
    VIEW_MEETINGS,
    VIEW_RULES,
    actor_may,
    who_may,
)
from triage_app.ui.chase_window import add_chase_action
from triage_app.ui.dialogs import Messages
from triage_app.ui.read_only_banner import READ_ONLY_OFF
from triage_app.ui.triage_panel import NOT_CONSULTANT

if TYPE_CHECKING:
    from PySide6.QtWidgets import QPushButton, QTableView

    from triage_app.services.app import AppSession
    from triage_app.ui.consultant_actions import ConsultantActions
    from triage_app.ui.context import AppContext
    from triage_app.ui.maintenance_actions import MaintenanceActions
    from triage_app.ui.queue_pane import QueuePane
    from triage_app.ui.read_only_banner import ReadOnlyBanner
    from triage_app.ui.referral_forms import ReferralForms
    from triage_app.ui.selection import Selection
    from triage_app.ui.sidebar import QueueSidebar
    from triage_app.ui.triage_panel import TriagePanel
    from triage_app.ui.worker import DbWorker


class WindowActions(QMainWindow):
    """Menus, shortcuts, the status bar and the enabling of every control."""

    # The parts MainWindow builds before its menus (declared here for the type checker).
    context: AppContext
    worker: DbWorker
    selection: Selection
    queue: QueuePane
    forms_owner: ReferralForms
    consultant: ConsultantActions
    maintenance_actions: MaintenanceActions
    table: QTableView
    sidebar: QueueSidebar
    panel: TriagePanel
    read_only_banner: ReadOnlyBanner
    new_button: QPushButton
    demo_button: QPushButton
    meeting_window: Any

    def refresh(self) -> None:
        """F5 (MainWindow reads every view again)."""
        raise NotImplementedError

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
        queue, forms, consultant, maintenance = self.queue, self.forms_owner, self.consultant, self.maintenance_actions
        self.new_action = self._action("&New referral…", forms.new_referral, QKeySequence.StandardKey.New)
        self.open_action = self._action(
            "&Open referral", forms.open_selected, "Ctrl+O", "Open the selected referral (Enter)"
        )
        self.next_action = self._action("&Next referral", lambda: queue.step(1), "Alt+Down")
        self.previous_action = self._action("&Previous referral", lambda: queue.step(-1), "Alt+Up")
        self.confirm_action = self._action("&Confirm triage", consultant.confirm_triage, "Ctrl+Shift+C")
        self.override_action = self._action("O&verride triage…", consultant.override_triage, "Ctrl+Shift+O")
        self.search_action = self._action("&Search", queue.focus_search, QKeySequence.StandardKey.Find)
        self.refresh_action = self._action("&Refresh", self.refresh, QKeySequence.StandardKey.Refresh)
        self.clear_action = self._action("&Clear filters", queue.clear_filters, "Ctrl+Shift+L")
        self.import_action = self._action(
            "&Import referrals…", self.import_referrals, tip="Add the referrals of a JSON file to the queue"
        )
        self.demo_action = self._action("Load &demo data…", maintenance.load_demo_data)
        self.backup_action = self._action("&Back up database now", maintenance.backup_now)
        self.restore_action = self._action(
            "Re&store a backup…", self.restore_backup, tip="Put a verified backup in place of a damaged database"
        )
        self.restore_action.setEnabled(False)  # offered on a damaged database, to administrators (_show_read_only)
        self.users_action = self._action("&Users and roles…", self.open_users)
        self.rules_action = self._action(
            "&Rules in force…", self.open_rules, tip="The approved triage rules, who approved them; approve new ones"
        )
        self.breaches_action = self._action(
            "&Breaches first", queue.show_breaches_first, "Ctrl+Shift+B", "Order the queue by the 18-week clock"
        )
        self.meetings_action = self._action("&MDT meetings…", self.open_meetings, "Ctrl+M")
        self.about_action = self._action("&About", self.show_about)
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")  # StandardKey.Quit is empty on Windows
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)  # from a form too
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        for action in (
            self.new_action,
            self.import_action,
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
        add_chase_action(self, meeting_menu)  # Meeting > Chase list and MDT actions… (ui/chase_window.py)
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
        self.rules_label.setAccessibleName("Rules in force")
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

    # --- enabling --------------------------------------------------------------------------------------------

    def _set_enabled(self, enabled: bool) -> None:
        queue = self.queue
        for widget in (
            self.table,
            self.sidebar,
            queue.outcome_filter,
            queue.status_filter,
            queue.flag_filter,
            queue.search,
        ):
            widget.setEnabled(enabled)
        for action in (
            self.new_action,
            self.import_action,
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

    def _apply_roles(self) -> None:
        """Each control is enabled by the role matrix; a disabled one says who may use it."""
        for action_name, controls, allowed_tip in (
            (CONFIRM_TRIAGE, (self.confirm_action,), "Confirm triage"),
            (OVERRIDE_TRIAGE, (self.override_action,), "Override triage…"),
            (ENTER_REFERRAL, (self.new_action, self.new_button), "New referral"),
            (IMPORT_REFERRALS, (self.import_action,), "Add the referrals of a JSON file to the queue"),
            (MANAGE_USERS, (self.users_action,), "Users and roles"),
            (VIEW_RULES, (self.rules_action,), "The approved triage rules, who approved them; approve new ones"),
            (LOAD_DEMO, (self.demo_action, self.demo_button), None),
            (BACKUP, (self.backup_action,), "Back up database now"),
            (VIEW_MEETINGS, (self.meetings_action,), "MDT meetings"),
        ):
            allowed = self.may(action_name)
            refused = NOT_CONSULTANT if action_name in (CONFIRM_TRIAGE, OVERRIDE_TRIAGE) else who_may(action_name)
            if self.read_only is not None and actor_may(self.session.actor, action_name):
                refused = READ_ONLY_OFF
            for control in controls:
                control.setEnabled(allowed)
                if not allowed:
                    control.setToolTip(refused)
                elif allowed_tip is not None:
                    control.setToolTip(allowed_tip)

    def _show_read_only(self, session: AppSession) -> None:
        """A database that can only be read: the red banner says why and what to do; writing actions are off."""
        from triage_app.services.permissions import RESTORE_BACKUP
        from triage_app.storage.preflight import ReadOnlyKind

        restorer = session.read_only_kind is ReadOnlyKind.DAMAGED and self.may(RESTORE_BACKUP)
        self.restore_action.setEnabled(restorer)
        self.restore_action.setToolTip(
            "Put a verified backup in place of the damaged database"
            if restorer
            else "Offered to administrators when the database is damaged (or: triage-app restore BACKUP)"
        )
        off = self.read_only_banner.show_session(session, restorer=restorer)
        if off is None:
            self.demo_button.show()
            self.setWindowTitle("SPD Referral Triage")
            return
        for control in (self.rules_action, self.open_action):  # the form and Approve would only be refused
            control.setEnabled(False)
            control.setToolTip(off)
        self.demo_button.hide()
        self.setWindowTitle("SPD Referral Triage — READ ONLY")

    def _selection_shown(self) -> None:
        """The panel and every action follow the selection."""
        detail = self.selection.detail
        self.panel.show_detail(detail, self.session.actor if self.session is not None else None)
        has_row = self.selection.referral_id is not None and self.session is not None
        may_edit = self.may(EDIT_REFERRAL)  # the form edits: without the role it would only refuse the save
        self.open_action.setEnabled(has_row and self.read_only is None and may_edit)
        if self.session is not None and self.read_only is None:
            self.open_action.setToolTip("Open the selected referral (Enter)" if may_edit else who_may(EDIT_REFERRAL))
        if self.read_only is not None:  # the panel's confirm, override, edit and status moves would write
            for widget in (
                self.panel.confirm_button,
                self.panel.override_button,
                self.panel.edit_button,
                self.panel.status_combo,
                self.panel.status_button,
            ):
                widget.setEnabled(False)
                widget.setToolTip(READ_ONLY_OFF)
        self.confirm_action.setEnabled(
            self.may(CONFIRM_TRIAGE) and detail is not None and self.panel.confirm_button.isEnabled()
        )
        self.override_action.setEnabled(
            self.may(OVERRIDE_TRIAGE) and detail is not None and self.panel.override_button.isEnabled()
        )

    # --- other windows ---------------------------------------------------------------------------------------

    def open_selected(self, focus_path: str | None = None) -> None:
        """Enter / double-click / Edit: the selected referral's form (loaded fresh)."""
        self.forms_owner.open_selected(focus_path)

    def import_referrals(self) -> Any:
        """File > Import referrals… (coordinators): a JSON file imported on the worker (ui/import_dialog.py)."""
        from triage_app.ui.import_dialog import ReferralImport

        if getattr(self, "referral_import", None) is None:
            self.referral_import = ReferralImport(self.context, self)
        self.referral_import.start()
        return self.referral_import

    def restore_backup(self) -> None:
        """File > Restore a backup… (maintenance)."""
        self.maintenance_actions.restore_backup()

    def open_meetings(self) -> Any:
        """Ctrl+M: the MDT meetings window (one per main window)."""
        if self.session is None:
            return None
        from triage_app.ui.meetings import MeetingWindow

        if getattr(self, "meeting_window", None) is None:
            # Its changes reach the queue and the side panel through the context's broadcast.
            self.meeting_window = MeetingWindow(self.context, self)
        self.meeting_window.show()
        self.meeting_window.raise_()
        self.meeting_window.refresh()
        return self.meeting_window

    def open_users(self) -> Any:
        """Administrators: the users and their roles."""
        if not self.may(MANAGE_USERS):
            return None
        from triage_app.ui.users_dialog import UsersDialog

        dialog = UsersDialog(self.context, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def open_rules(self) -> Any:
        """The rules in force and who approved them (anyone with a role); administrators approve new ones."""
        if not self.may(VIEW_RULES):
            return None
        from triage_app.ui.rules_dialog import open_rules_dialog

        return open_rules_dialog(self)

    def show_about(self) -> None:
        """Version and rules version."""
        Messages.about(self, self.session.rules.version if self.session else "not loaded")

    # --- what tests and other windows read ---------------------------------------------------------------------

    @property
    def session(self) -> Any:
        """The open `AppSession` (None before it opens): the context holds it."""
        return self.context.session

    @property
    def read_only(self) -> str | None:
        """Why the open database can only be read (what is wrong and what to do), or None."""
        return self.context.read_only

    def may(self, action: str) -> bool:
        """Whether the signed-in user's roles allow the action; never a writing one on a read-only database."""
        return self.context.may(action)

    @property
    def detail(self) -> Any:
        """The selected referral's detail (None when nothing is selected)."""
        return self.selection.detail

    @property
    def forms(self) -> list[Any]:
        """Every open referral form."""
        return self.forms_owner.forms

    @property
    def lost_offer(self) -> Any:
        """A missing or emptied database file: the newest verified backup and who may restore it."""
        return self.maintenance_actions.lost_offer

    @property
    def restore_asked(self) -> str:
        """The question the last restore asked."""
        return self.maintenance_actions.restore_asked

    @property
    def last_report(self) -> Any:
        """The last report shown in a message box (a restore, a backup)."""
        return self.maintenance_actions.last_report

    @property
    def _search_timer(self) -> Any:
        """The pause the search waits for before it applies (tests lengthen it)."""
        return self.queue.search_timer

    # The queue's controls and actions and the forms, as menus, other windows and tests reach them.

    @property
    def search(self) -> QLineEdit:
        """The search box."""
        return self.queue.search

    @property
    def outcome_filter(self) -> QComboBox:
        """The triage outcome filter."""
        return self.queue.outcome_filter

    @property
    def status_filter(self) -> QComboBox:
        """The status filter."""
        return self.queue.status_filter

    @property
    def flag_filter(self) -> QComboBox:
        """The caution filter."""
        return self.queue.flag_filter

    def apply_filters(self) -> None:
        """Load the queue for the filters shown."""
        self.queue.apply_filters()

    def clear_filters(self) -> None:
        """Back to the whole queue."""
        self.queue.clear_filters()

    def acting_on(self) -> Any:
        """The referral an action may act on (QueuePane.acting_on)."""
        return self.queue.acting_on()

    def show_detail(self, referral_id: int | None) -> None:
        """Read a referral for the triage panel."""
        self.queue.show_detail(referral_id)

    def form_for(self, referral_id: int | None) -> Any:
        """The open form of a stored referral, if there is one."""
        return self.forms_owner.form_for(referral_id)

    def new_referral(self) -> None:
        """Ctrl+N: an empty referral form."""
        self.forms_owner.new_referral()
