"""The queue table, its filters and search, and the selected referral it shows on the triage panel.

Given the `AppContext` and the one `Selection`, not the main window. It listens to `context.changed` and
refreshes its own part: the queue model the rows a change names (or the view, when its membership may have
changed), the panel's referral only when the change names it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QToolBar,
)

from triage_app.domain.scoring import FLAGS, OUTCOME_LABELS, OUTCOMES
from triage_app.domain.workflow import STATUS_LABELS, STATUSES
from triage_app.ui.queue_columns import COL_NAME, COL_NHS, COLUMN_TOOLTIPS, COLUMNS
from triage_app.ui.queue_delegate import QueueDelegate
from triage_app.ui.queue_model import COL_WEEKS, ID_ROLE, QueueTableModel, QueueView

if TYPE_CHECKING:
    from triage_app.services.changes import Changes
    from triage_app.services.queue import QueueFilter
    from triage_app.services.referrals import ReferralDetail
    from triage_app.ui.context import AppContext
    from triage_app.ui.selection import Selection

#: Column widths of a first start (the window remembers the user's own).
COLUMN_WIDTHS = (50, 110, 180, 45, 100, 55, 330, 200, 140, 140)
#: The narrowest a column may be dragged: its text is elided (…) below its full width, never cut off unseen.
MINIMUM_COLUMN_WIDTH = 36
#: Columns that always show: who each row is (H01), so the patient acted on can always be told apart.
FIXED_COLUMNS = frozenset({COL_NHS, COL_NAME})
#: Where a user's hidden columns are kept (by column title: stable if columns are added), per login.
HIDDEN_COLUMNS_KEY = "queue/hidden_columns/{login}"


#: What a queue row and the referral it shows must agree on (the version alone, were every change to bump it).
_ROW_FIELDS = ("version", "status", "outcome", "decided_outcome", "decision_kind")


def row_is_stale(cached: Any, fresh: Any) -> bool:
    """True when the queue's cached row shows another state of the referral than a fresh read of it."""
    return any(
        getattr(cached, name, None) != getattr(fresh, name, None)
        for name in _ROW_FIELDS
        if hasattr(cached, name) and hasattr(fresh, name)
    )


def set_up_table(table: QTableView) -> None:
    """The queue table's look and behaviour (shared with benchmarks/queue_gui.py, which paints what the app
    paints): rows selected whole, no row header, one line per row with long text elided, the first start's widths."""
    table.setAccessibleName("Referral queue")
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setSortingEnabled(True)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    header.setSortIndicator(0, Qt.SortOrder.DescendingOrder)
    header.setMinimumSectionSize(MINIMUM_COLUMN_WIDTH)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setWordWrap(False)
    for column, width in enumerate(COLUMN_WIDTHS):
        table.setColumnWidth(column, width)
    table.setItemDelegate(QueueDelegate(table))  # plain text cells drawn without the style's per-cell path


def _today() -> Any:
    from triage_app.services.app import local_today

    return local_today()


class QueuePane(QObject):
    """The table of the current view, the filters that choose it, and the selection that follows its rows."""

    #: A referral's detail arrived and is shown on the panel.
    detail_shown = Signal(int)

    def __init__(self, context: AppContext, selection: Selection, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.selection = selection
        self.meeting_filter: int | None = None  # set from the side panel's Meetings views
        self._first_load = True
        self._shown_with: Changes | None = None  # the op whose own result put the detail on the panel
        self.model = QueueTableModel(
            context.worker,
            lambda: context.session.db if context.session is not None else None,
            today=_today,
            warning_weeks=self._warning_weeks,
            rules_version=self._rules_version,
            parent=self,
        )
        self.model.page_shown.connect(self._on_loaded)
        self.model.ids_ready.connect(self._on_ids_ready)
        self._build_table()
        self._build_filters()
        context.changed.connect(self.apply_changes)

    def _warning_weeks(self) -> int:
        session = self.context.session
        return session.rules.rtt_warning_weeks if session is not None else 12

    def _rules_version(self) -> str | None:
        session = self.context.session
        return session.rules.version if session is not None else None

    # --- construction ----------------------------------------------------------------------------------------

    def _build_table(self) -> None:
        self.table = QTableView()
        self.table.setModel(self.model)
        set_up_table(self.table)
        header = self.table.horizontalHeader()
        self.table.selectionModel().currentRowChanged.connect(self._current_row_changed)
        self.model.watch_paints(self.table.viewport())  # a view's count and ids wait for its first page's paint
        # The column chooser: right-click the header (a narrow screen shows four or five columns of ten).
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_column_menu)
        self.settings: QSettings | None = None

    # --- the column chooser -----------------------------------------------------------------------------------

    def column_menu(self) -> QMenu:
        """A menu of the queue's columns, each checkable; the NHS number and the name cannot be hidden."""
        menu = QMenu(self.table)
        menu.setToolTipsVisible(True)
        header = self.table.horizontalHeader()
        for column, title in enumerate(COLUMNS):
            action = menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.setToolTip(COLUMN_TOOLTIPS[column])
            action.setObjectName(f"column-{column}")
            if column in FIXED_COLUMNS:
                action.setEnabled(False)  # who the row is always shows
                action.setToolTip(f"{COLUMN_TOOLTIPS[column]} (always shown: it tells patients apart)")
            else:
                action.toggled.connect(lambda shown, column=column: self.show_column(column, shown))
        return menu

    def _show_column_menu(self, position: QPoint) -> None:
        self.column_menu().exec(self.table.horizontalHeader().mapToGlobal(position))

    def show_column(self, column: int, shown: bool) -> None:
        """Show or hide a column (never the NHS number or the name) and remember the choice for this user."""
        if column in FIXED_COLUMNS and not shown:
            return
        header = self.table.horizontalHeader()
        header.setSectionHidden(column, not shown)
        if shown and header.sectionSize(column) < MINIMUM_COLUMN_WIDTH * 2:
            header.resizeSection(column, COLUMN_WIDTHS[column])
        self._save_columns()

    def hidden_columns(self) -> list[int]:
        """The columns hidden now."""
        header = self.table.horizontalHeader()
        return [column for column in range(len(COLUMNS)) if header.isSectionHidden(column)]

    def _columns_key(self) -> str | None:
        session = self.context.session
        return None if session is None else HIDDEN_COLUMNS_KEY.format(login=session.actor.login)

    def _save_columns(self) -> None:
        key = self._columns_key()
        if self.settings is None or key is None:
            return
        self.settings.setValue(key, [COLUMNS[column] for column in self.hidden_columns()])
        self.settings.sync()

    def restore_columns(self, settings: QSettings) -> None:
        """Show the signed-in user's chosen columns (all of them the first time); the choice is kept in `settings`."""
        self.settings = settings
        key = self._columns_key()
        stored = settings.value(key, []) if key is not None else []
        # One value reads back as a string, several as a list.
        titles = (
            {stored} if isinstance(stored, str) else {str(t) for t in stored} if isinstance(stored, list) else set()
        )
        header = self.table.horizontalHeader()
        for column, title in enumerate(COLUMNS):
            header.setSectionHidden(column, title in titles and column not in FIXED_COLUMNS)

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
        self.search.setMinimumWidth(320)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(250)
        self.search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _text: self.search_timer.start())
        self.search.returnPressed.connect(self.apply_filters)
        for combo in (self.outcome_filter, self.status_filter, self.flag_filter):
            combo.currentIndexChanged.connect(lambda _index: self.apply_filters())

    def filter_bar(self) -> QToolBar:
        """The toolbar of filters (the search sits in the menu bar's corner, placed by the window)."""
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
        return bar

    # --- the view --------------------------------------------------------------------------------------------

    def current_filter(self) -> QueueFilter:
        """The filter the controls describe."""
        from triage_app.services.queue import QueueFilter

        return QueueFilter(
            outcome=self.outcome_filter.currentData(),
            status=self.status_filter.currentData(),
            flag=self.flag_filter.currentData(),
            search=self.search.text().strip() or None,
            meeting_id=self.meeting_filter,
        )

    def filtering(self) -> bool:
        """True when a filter or a search narrows the queue."""
        return any(
            (
                self.outcome_filter.currentData(),
                self.status_filter.currentData(),
                self.flag_filter.currentData(),
                self.search.text().strip(),
            )
        )

    def apply_filters(self) -> None:
        """Load the queue for the current filter, keeping the current sort."""
        self.search_timer.stop()
        if self.context.session is None:
            return
        view = self.model.view
        sort, descending = (view.sort, view.descending) if view is not None else ("priority", True)
        self.model.load(QueueView(self.current_filter(), sort, descending))

    def choose_view(self, kind: str, value: Any) -> None:
        """A view of the side panel: that one filter, every other one cleared."""
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
        self.choose_view("all", None)

    def focus_search(self) -> None:
        """Ctrl+F: type to search."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def show_breaches_first(self) -> None:
        """Order the view by the 18-week clock: 18 weeks or more, then the warning weeks, then the rest."""
        self.table.sortByColumn(COL_WEEKS, Qt.SortOrder.DescendingOrder)  # the header's arrow says so too

    def step(self, offset: int) -> None:
        """Next / previous referral in the queue."""
        row = self.table.currentIndex().row()
        target = max(0, min(self.model.rowCount() - 1, row + offset if row >= 0 else 0))
        if self.model.rowCount():
            self.select_row(target)

    def select_row(self, row: int) -> None:
        """Make `row` the table's current row, on screen."""
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))

    # --- changes ---------------------------------------------------------------------------------------------

    def apply_changes(self, changes: Changes) -> None:
        """The queue's part of a change: its rows (or its view), and the panel's referral when it is named."""
        self.model.apply_changes(changes)
        selected = self.selection.referral_id
        if changes is self._shown_with:  # the op's own result already put the fresh detail on the panel
            self._shown_with = None
            return
        if changes.touches_referral(selected):
            self.show_detail(selected)

    def show_result(self, detail: ReferralDetail, changes: Changes) -> None:
        """An op's result carries the referral as it now stands: shown without reading it again."""
        if detail.row.id == self.selection.referral_id:
            self.selection.set_detail(detail)
            self._shown_with = changes

    def catch_up(self, detail: ReferralDetail) -> None:
        """A read found the referral changed since its row was fetched (another desktop, H04): refresh that row.

        It goes the way a broadcast goes (`Changes` for that id), so the row is repainted, or the view reloaded
        when the referral left it (which clears the selection), and the side panel recounts. The panel already
        shows the fresh detail, so it is not read again.
        """
        referral_id = detail.row.id
        if referral_id is None:
            return
        cached = self.model.cached_row(referral_id)
        if cached is None or not row_is_stale(cached, detail.row):
            return
        from triage_app.services.changes import referrals_changed

        changes = referrals_changed(referral_id)
        if self.selection.detail is detail:
            self._shown_with = changes
        self.context.broadcast(changes)

    # --- the selection ---------------------------------------------------------------------------------------

    def _on_loaded(self) -> None:
        """A new view's first page is in: keep the selected referral if it is still shown, else clear it."""
        wanted = self.selection.referral_id
        if wanted is not None:
            row = self.model.row_of(wanted)
            if row is not None:
                self.select_row(row)
            elif self.model.all_ids_known:
                self.selection.select(None)  # it left the view: the panel clears and its actions disable
            else:
                self.selection.hold()  # decided when every id of the view has arrived
        elif self._first_load and self.model.total:
            self.select_row(0)
        self._first_load = False

    def _on_ids_ready(self) -> None:
        wanted = self.selection.referral_id
        if wanted is None:
            return
        row = self.model.row_of(wanted)
        if row is None:
            self.selection.select(None)
        else:
            self.select_row(row)
            if self.selection.detail is None:
                self.show_detail(wanted)

    def _current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        referral_id = self.model.data(current, ID_ROLE) if current.isValid() else None
        if self.selection.select(referral_id) or (referral_id is not None and self.selection.detail is None):
            self.show_detail(referral_id)

    def acting_on(self) -> ReferralDetail | None:
        """The referral an action may act on: the selected row of the current view, with its detail loaded.

        None when no row is selected, the detail is still loading, or the row is no longer the table's current one.
        """
        if self.search_timer.isActive():  # a search typed but not yet applied: the row may be about to leave
            self.apply_filters()
            return None
        detail = self.selection.detail
        current = self.table.currentIndex()
        if detail is None or not current.isValid() or self.model.data(current, ID_ROLE) != detail.row.id:
            return None
        return detail

    def show_detail(self, referral_id: int | None) -> None:
        """Fetch and show the triage panel for a referral."""
        if referral_id is None or self.context.session is None:
            self.selection.select(None)
            return
        from triage_app.services.referrals import get_referral

        def shown(detail: ReferralDetail) -> None:
            self.selection.set_detail(detail)
            if self.selection.detail is detail:
                self.detail_shown.emit(detail.row.id)
            self.catch_up(detail)

        self.context.query(
            lambda session: get_referral(session.db, referral_id=referral_id, actor=session.actor),
            title="Referral",
            on_success=shown,
        )
