"""The referral queue as a lazy table model: ids in order, rows fetched a page at a time off the GUI thread.

Filtering and sorting happen in SQL. Loading a view is two steps, so the first screen paints at once: the
count and first page together, then every id of the view; rows are fetched by page as they scroll into view.

The 18-week clock is read for today on every load (H07): the model puts today's `RttClock` into each view's
filter, so the weeks column, the `rtt_breach_risk` caution and view, and the "breaches first" order (a click on
the Wks header) are today's, not those of the day a referral was scored.

Why one module (about 400 lines): loading, paging and the targeted refresh share the generation counter and the
row cache, so they stay together; the columns' text and sort keys are in queue_columns.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from triage_app.domain.scoring import RTT_BREACHED, RTT_WARNING, RttClock
from triage_app.ui.queue_columns import (
    COL_AGE,
    COL_FLAGS,
    COL_MEETING,
    COL_NAME,
    COL_NHS,
    COL_OUTCOME,
    COL_PRIORITY,
    COL_RECEIVED,
    COL_STATUS,
    COL_WEEKS,
    COLUMN_TOOLTIPS,
    COLUMNS,
    SORT_BREACHES,
    SORT_KEYS,
    display,
    sort_key,
    sort_value,
    tooltip,
)
from triage_app.ui.theme import scheme_colour
from triage_app.ui.worker import DbWorker

if TYPE_CHECKING:
    from triage_app.services.changes import Changes

log = logging.getLogger(__name__)

PAGE_SIZE = 100

ID_ROLE = Qt.ItemDataRole.UserRole + 1
OBJECT_ROLE = Qt.ItemDataRole.UserRole + 2
SORT_ROLE = Qt.ItemDataRole.UserRole + 3

LOADING_TEXT = "…"
_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.AccessibleTextRole,
        ID_ROLE,
        OBJECT_ROLE,
        SORT_ROLE,
    }
)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
#: 18-week bands' cell backgrounds by name (theme.SCHEME_COLOURS: opaque, 4.5:1 behind the scheme's text).
_BANDS = {RTT_BREACHED: "breach_bg", RTT_WARNING: "warning_bg"}


@dataclass(frozen=True, slots=True)
class QueueView:
    """What the table shows: a filter and a sort."""

    queue_filter: Any  # services.queue.QueueFilter, imported lazily to keep SQL out of the GUI's start-up
    sort: str = "priority"
    descending: bool = True


class QueueTableModel(QAbstractTableModel):
    """Holds the ids of the current view in order; fetches visible rows lazily through the worker."""

    loaded = Signal(int)  # total rows of the new view, once its first page is in
    ids_ready = Signal()
    failed = Signal(str)
    rows_refreshed = Signal(list)  # the ids repainted in place by refresh_rows (no reset)

    def __init__(
        self,
        worker: DbWorker,
        database: Callable[[], Any],
        *,
        today: Callable[[], date],
        warning_weeks: Callable[[], int],
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._worker = worker
        self._database = database
        self._today = today
        self._warning_weeks = warning_weeks
        self._generation = 0
        self._total = 0
        self._ids: list[int] | None = None
        self._first_ids: list[int] = []
        self._rows: dict[int, Any] = {}
        self._cells: dict[int, tuple[str, ...]] = {}  # display text per referral, made once per fetch
        self._pending_pages: set[int] = set()
        self._loading = False  # a view's first page is on its way: the cache is about to be replaced
        self.view: QueueView | None = None

    # --- loading -------------------------------------------------------------------------------------------

    def load(self, view: QueueView) -> None:
        """Show `view`: count and first page, then every id. Results of an older load are dropped."""
        from triage_app.services import queue

        self._generation += 1
        generation = self._generation
        view = QueueView(replace(view.queue_filter, clock=self.clock()), view.sort, view.descending)
        self.view = view
        self._loading = True
        db = self._database()

        def first() -> Any:
            return queue.snapshot(
                db, queue_filter=view.queue_filter, sort=view.sort, descending=view.descending, page_size=PAGE_SIZE
            )

        def on_first(result: Any) -> None:
            if generation != self._generation:
                return
            self.beginResetModel()
            self._loading = False
            self._total = result.total
            self._first_ids = result.first_ids
            self._ids = result.first_ids if len(result.first_ids) >= result.total else None
            self._rows = dict(result.rows)
            self._cells.clear()
            self._pending_pages.clear()
            self.endResetModel()
            self.loaded.emit(self._total)
            if self._ids is None:
                self._worker.submit(every_id, on_ids, self._on_error)
            else:
                self.ids_ready.emit()

        def every_id() -> list[int]:
            return queue.all_ids(db, queue_filter=view.queue_filter, sort=view.sort, descending=view.descending)

        def on_ids(ids: list[int]) -> None:
            if generation != self._generation:
                return
            if len(ids) != self._total:  # the queue changed between the two reads: show it as it is now
                self.beginResetModel()
                self._total = len(ids)
                self._ids = ids
                self.endResetModel()
            else:
                self._ids = ids
                if self._total:
                    self.dataChanged.emit(self.index(0, 0), self.index(self._total - 1, len(COLUMNS) - 1))
            self.ids_ready.emit()

        self._worker.submit(first, on_first, self._on_error)

    def clock(self) -> RttClock:
        """Today's 18-week clock, with the rules' warning week."""
        return RttClock(self._today(), self._warning_weeks())

    def show_breaches_first(self) -> None:
        """Order the current view by the 18-week clock: 18 weeks or more, then the warning weeks, then the rest."""
        if self.view is not None:
            self.load(QueueView(self.view.queue_filter, SORT_BREACHES, True))

    def reload(self) -> None:
        """Load the current view again (after a change elsewhere)."""
        if self.view is not None:
            self.load(self.view)

    def apply_changes(self, changes: Changes) -> None:
        """Refresh what a `Changes` report touches: the named rows, or the whole view when its membership may
        have changed (a referral created, the rules or everything changed, the meetings a view lists)."""
        if self.view is None or not changes:
            return
        meeting_view = self.view.queue_filter.meeting_id
        if (
            changes.everything
            or changes.rules
            or changes.created
            or (meeting_view is not None and changes.touches_meeting(meeting_view))
        ):
            self.reload()
        elif changes.meetings and not changes.referral_ids:
            self.reload()  # a meeting's date moved or it was cancelled: the Meeting column of unnamed rows
        elif changes.referral_ids:
            self.refresh_rows(changes.referral_ids)

    def refresh_rows(self, referral_ids: set[int] | frozenset[int]) -> None:
        """Read these referrals' lines again in one worker job, with which of them the view's filter holds.

        A named row that left the filter, a new one that matches it, or a changed sort key reloads the view (its
        membership or order changed); otherwise only the named rows are repainted (`dataChanged`, no reset).
        """
        from triage_app.services import queue

        view = self.view
        if view is None or not referral_ids:
            return
        named = sorted(referral_ids)
        generation = self._generation
        db = self._database()
        queue_filter = replace(view.queue_filter, clock=self.clock())

        def on_rows(result: Any) -> None:
            if generation != self._generation:
                return  # a newer view is on its way: it shows these rows as they are now
            if self._membership_changed(named, result.rows, result.matching):
                self.reload()
                return
            for referral_id in named:
                if referral_id not in result.rows:
                    continue
                self._cells.pop(referral_id, None)
                self._rows[referral_id] = result.rows[referral_id]
                row = self.row_of(referral_id)
                if row is not None:
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            self.rows_refreshed.emit(named)

        self._worker.submit(
            lambda: queue.rows_in_view(db, ids=named, queue_filter=queue_filter), on_rows, self._on_error
        )

    def _membership_changed(self, named: list[int], rows: dict[int, Any], matching: frozenset[int]) -> bool:
        """True when the view must be read again: a named row left or joined it, or its place may have moved."""
        if self._ids is None or self.view is None:
            return True  # every id of the view is still on its way: its order cannot be checked
        for referral_id in named:
            shown = self.row_of(referral_id) is not None
            if shown != (referral_id in matching):
                return True
            if not shown:
                continue
            before, after = self._rows.get(referral_id), rows.get(referral_id)
            if before is None or after is None or sort_key(before, self.view.sort) != sort_key(after, self.view.sort):
                return True  # never seen (no old key to compare) or its key changed: its row may have moved
        return False

    def _on_error(self, error: BaseException) -> None:
        log.error("queue load failed: %s", type(error).__name__)
        self.failed.emit(str(error))

    def _request_page(self, page_number: int) -> None:
        from triage_app.services import queue

        if self._ids is None or page_number in self._pending_pages:
            return
        ids = self._ids[page_number * PAGE_SIZE : (page_number + 1) * PAGE_SIZE]
        wanted = [i for i in ids if i not in self._rows]
        if not wanted:
            return
        self._pending_pages.add(page_number)
        generation = self._generation
        db = self._database()

        def on_page(rows: dict[int, Any]) -> None:
            if generation != self._generation:
                return
            self._pending_pages.discard(page_number)
            self._rows.update(rows)
            first = page_number * PAGE_SIZE
            last = min(self._total, first + PAGE_SIZE) - 1
            if last >= first:
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))

        clock = self.clock()
        self._worker.submit(lambda: queue.page(db, ids=wanted, clock=clock), on_page, self._on_error)

    # --- lookups -------------------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Rows in the current view."""
        return self._total

    @property
    def all_ids_known(self) -> bool:
        """True once every id of the view has arrived."""
        return self._ids is not None

    def id_at(self, row: int) -> int | None:
        """The referral id shown on `row`, if known yet."""
        if self._ids is not None:
            return self._ids[row] if 0 <= row < len(self._ids) else None
        return self._first_ids[row] if 0 <= row < len(self._first_ids) else None

    def row_of(self, referral_id: int) -> int | None:
        """The row showing `referral_id`, if it is in the view."""
        ids = self._ids if self._ids is not None else self._first_ids
        try:
            return ids.index(referral_id)
        except ValueError:
            return None

    def cached_row(self, referral_id: int) -> Any:
        """The line the view shows for `referral_id` (None: not shown, not fetched yet, or a new view loading)."""
        if self._loading or self.row_of(referral_id) is None:
            return None
        return self._rows.get(referral_id)

    def queue_row(self, row: int) -> Any:
        """The cached line for `row`, or None while it loads."""
        referral_id = self.id_at(row)
        return None if referral_id is None else self._rows.get(referral_id)

    # --- Qt model API --------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._total

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TOOLTIPS[section]
        if role == Qt.ItemDataRole.InitialSortOrderRole and section in SORT_KEYS:
            # The header's first click: highest priority first, and breaches first on the weeks column.
            first_descending = SORT_KEYS[section][1]
            return Qt.SortOrder.DescendingOrder if first_descending else Qt.SortOrder.AscendingOrder
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():
            return None  # most roles a view asks for are not ours: answer before any work
        row_number, column = index.row(), index.column()
        if row_number >= self._total or column >= len(COLUMNS):
            return None
        row = self.queue_row(row_number)
        if row is None:
            if self._ids is not None:
                self._request_page(row_number // PAGE_SIZE)
            if role == ID_ROLE:
                return self.id_at(row_number)
            return LOADING_TEXT if role == Qt.ItemDataRole.DisplayRole and column == 0 else None
        if role == Qt.ItemDataRole.DisplayRole:
            cells = self._cells.get(row.id)
            if cells is None:
                clock = self.clock()
                cells = self._cells[row.id] = tuple(display(row, c, clock) for c in range(len(COLUMNS)))
            return cells[column]
        if role == ID_ROLE:
            return row.id
        if role == OBJECT_ROLE:
            return row
        if role == SORT_ROLE:
            return sort_value(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(row, column, self.clock())
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in (COL_PRIORITY, COL_AGE, COL_WEEKS) else None
        if role == Qt.ItemDataRole.BackgroundRole:
            if column != COL_WEEKS:
                return None
            band = _BANDS.get(self.clock().band(row.received_on) or "")
            return None if band is None else QBrush(QColor(scheme_colour(band)))
        return f"{COLUMNS[column]}: {display(row, column, self.clock())}"  # AccessibleTextRole

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in SQL by the column's key (columns without one keep the current order)."""
        if column not in SORT_KEYS or self.view is None:
            return
        key, _ = SORT_KEYS[column]
        descending = order == Qt.SortOrder.DescendingOrder
        if column == COL_AGE:  # oldest first reads as "descending"
            descending = not descending
        if column == COL_WEEKS:  # a click shows breaches first; the other direction shows the shortest waits first
            descending = order == Qt.SortOrder.DescendingOrder
        self.load(QueueView(self.view.queue_filter, key, descending))


__all__ = [  # the columns are re-exported: views and tests name them from here
    "COLUMNS",
    "COLUMN_TOOLTIPS",
    "COL_AGE",
    "COL_FLAGS",
    "COL_MEETING",
    "COL_NAME",
    "COL_NHS",
    "COL_OUTCOME",
    "COL_PRIORITY",
    "COL_RECEIVED",
    "COL_STATUS",
    "COL_WEEKS",
    "ID_ROLE",
    "OBJECT_ROLE",
    "PAGE_SIZE",
    "SORT_BREACHES",
    "SORT_KEYS",
    "QueueTableModel",
    "QueueView",
]
