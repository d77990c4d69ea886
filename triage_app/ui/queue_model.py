"""The referral queue as a lazy table model: ids in order, rows fetched a page at a time off the GUI thread.

Filtering and sorting happen in SQL. Loading a view is three steps, so the first screen paints at once: the first
page alone (the table shows its rows and the window says "Counting…"); once that page has been painted, the count
with the first page read again in one transaction (the rows below the page appear, or the view resets if the page
changed meanwhile: the count and the page shown always agree); then every id of the view. Rows are fetched by page
as they scroll into view. A result of a view the user has left is dropped (the generation counter), and the long
read of every id stops early when its view is left.

Painting is the cost beyond the queries: a screen of ~25 rows by 10 columns asks the model for ~2,600 values
through Python. `multiData` answers every role of a cell in one call, `index` answers without asking `rowCount`
and `columnCount`, and `flags` is Qt's own (the same flags, without a Python call per cell); the cells' text,
band colour and marker are made once per row. The count and the read of every id wait for the first paint: a
worker thread reading a million ids takes the interpreter lock from the painting GUI thread at every call.

A row whose assessment was made under other rules than those in force, and that a reassessment would rescore,
carries a marker on its Triage cell (an icon, the tooltip "Not yet reassessed with the rules in force") until its
batch is done: each batch saved re-reads the marked rows (`refresh_shown`), and the reassessment's Changes broadcast
at its end refreshes the view (H05).

The 18-week clock is read for today on every load (H07): the model puts today's `RttClock` into each view's
filter, so the weeks column, the `rtt_breach_risk` caution and view, and the "breaches first" order (a click on
the Wks header) are today's, not those of the day a referral was scored.

Why one module (about 400 lines): loading, paging and the targeted refresh share the generation counter and the
row cache, so they stay together; the columns' text and sort keys are in queue_columns.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import QApplication, QStyle, QWidget

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
    NOT_REASSESSED_TEXT,
    SORT_BREACHES,
    SORT_KEYS,
    display,
    not_reassessed,
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
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.AccessibleTextRole,
        ID_ROLE,
        OBJECT_ROLE,
        SORT_ROLE,
    }
)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_RIGHT_COLUMNS = frozenset({COL_PRIORITY, COL_AGE, COL_WEEKS})
RIGHT_COLUMNS = _RIGHT_COLUMNS  # right-aligned (numbers): the queue's delegate aligns its plain cells the same
#: 18-week bands' cell backgrounds by name (theme.SCHEME_COLOURS: opaque, 4.5:1 behind the scheme's text).
_BANDS = {RTT_BREACHED: "breach_bg", RTT_WARNING: "warning_bg"}
_COLUMN_COUNT = len(COLUMNS)
# Roles as plain ints: multiData compares each role of a cell, and int comparisons are the cheapest.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
#: How long the count waits for the first paint of a view that does not paint (hidden, minimised), in ms.
PAINT_WAIT_MS = 200
#: The shortest time between two reads of the marked rows while a reassessment saves batch after batch, in ms: a
#: read that finds a row's priority changed reloads the view (its order may have changed, H08), which on a million
#: referrals reads every id again, so not after every batch.
REFRESH_MS = 2000


@dataclass(frozen=True, slots=True)
class _Cells:
    """One row as painted: its cells' text, the weeks cell's band colour, and whether it awaits reassessment."""

    texts: tuple[str, ...]
    band: QBrush | None
    not_reassessed: bool


class _PaintWatch(QObject):
    """Tells the model when the table's viewport has painted, so the count and the ids wait for the first paint."""

    def __init__(self, model: QueueTableModel, viewport: QWidget) -> None:
        super().__init__(model)
        self._model = model
        self.viewport = viewport
        viewport.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint and self._model.waiting_for_paint:
            QTimer.singleShot(0, self._model.run_after_paint)  # after this paint has been done
        return False


@dataclass(frozen=True, slots=True)
class QueueView:
    """What the table shows: a filter and a sort."""

    queue_filter: Any  # services.queue.QueueFilter, imported lazily to keep SQL out of the GUI's start-up
    sort: str = "priority"
    descending: bool = True


class QueueTableModel(QAbstractTableModel):
    """Holds the ids of the current view in order; fetches visible rows lazily through the worker."""

    page_shown = Signal()  # a new view's first page is in the table (its count may still be on its way)
    counting = Signal()  # the page is shown and the view is being counted: no count may be shown meanwhile
    loaded = Signal(int)  # the view's count, once it is known (the table then has that many rows)
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
        rules_version: Callable[[], str | None] = lambda: None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._worker = worker
        self._database = database
        self._today = today
        self._warning_weeks = warning_weeks
        self._rules_version = rules_version
        self._generation = 0
        self._total = 0  # rows in the table: the first page's until the view is counted
        self._counted = False  # _total is the view's count
        self._ids: Sequence[int] | None = None  # every id of the view, in order (an array once all are in)
        self._first_ids: list[int] = []
        self._rows: dict[int, Any] = {}
        self._cells: dict[int, _Cells] = {}  # each referral's row as painted, made once per fetch
        self._pending_pages: set[int] = set()
        self._loading = False  # a view's first page is on its way: the cache is about to be replaced
        self._blank_asked = False  # a row below the first page was asked for before its id was known ("…")
        self._version_in_force: str | None = None
        self._after_paint: Callable[[], None] | None = None
        self._paint_watch: _PaintWatch | None = None
        self._paint_timer = QTimer(self)
        self._paint_timer.setSingleShot(True)
        self._paint_timer.setInterval(PAINT_WAIT_MS)
        self._paint_timer.timeout.connect(self.run_after_paint)
        self._marker: QIcon | None = None
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_marked)
        self.view: QueueView | None = None

    def watch_paints(self, viewport: QWidget) -> None:
        """Hold each view's count and ids until `viewport` (the table's) has painted the first page."""
        self._paint_watch = _PaintWatch(self, viewport)

    @property
    def waiting_for_paint(self) -> bool:
        """True while a view's count waits for the first page to be painted."""
        return self._after_paint is not None

    def run_after_paint(self) -> None:
        """The first page has been painted (or waited for long enough): start what waited for it."""
        self._paint_timer.stop()
        action, self._after_paint = self._after_paint, None
        if action is not None:
            action()

    def _when_painted(self, action: Callable[[], None]) -> None:
        watch = self._paint_watch
        if watch is None or not watch.viewport.isVisible():
            self._after_paint = None
            action()  # nothing will paint: go on at once
            return
        self._after_paint = action
        self._paint_timer.start()

    # --- loading -------------------------------------------------------------------------------------------

    def load(self, view: QueueView, *, count_first: bool = False) -> None:
        """Show `view`: its first page, then (once painted) its count, then every id. Results of an older load
        are dropped. `count_first`: the page and its count together (a view read again where the user may have
        scrolled far down: the table keeps its length, so the scroll position stays)."""
        from triage_app.services import queue

        self._generation += 1
        generation = self._generation
        view = QueueView(replace(view.queue_filter, clock=self.clock()), view.sort, view.descending)
        self.view = view
        self._loading = True
        self._after_paint = None  # an older view's count no longer waits
        self._paint_timer.stop()
        db = self._database()
        sort, descending = view.sort, view.descending

        def current() -> bool:
            return generation == self._generation

        def first() -> Any:
            read = queue.snapshot if count_first else queue.first_page
            return read(db, queue_filter=view.queue_filter, sort=sort, descending=descending, page_size=PAGE_SIZE)

        def on_first(result: Any) -> None:
            if not current():
                return
            self._show_page(result.first_ids, result.rows, result.total)
            if result.total is not None:  # counted with the page, or a short page (the view holds just these)
                self.loaded.emit(self._total)
                if self._ids is None:
                    self._submit(every_id, on_ids)
                else:
                    self.ids_ready.emit()
                return
            self.counting.emit()
            self._when_painted(lambda: self._submit(count, on_count) if current() else None)

        def count() -> Any:
            return queue.snapshot(
                db, queue_filter=view.queue_filter, sort=sort, descending=descending, page_size=PAGE_SIZE
            )

        def on_count(result: Any) -> None:
            if not current():
                return  # the user has left this view: its count is never shown
            if result.first_ids != self._first_ids:  # the queue changed since the page was read: show it as it is
                self._show_page(result.first_ids, result.rows, result.total)
            else:
                self._counted_rows(result.total, result.rows)
            self.loaded.emit(self._total)
            if self._ids is None:
                self._submit(every_id, on_ids)
            else:
                self.ids_ready.emit()

        def every_id() -> Sequence[int]:
            return queue.all_ids(
                db, queue_filter=view.queue_filter, sort=sort, descending=descending, stop=lambda: not current()
            )

        def on_ids(ids: Sequence[int]) -> None:
            if not current():
                return
            if len(ids) != self._total:  # the queue changed between the two reads: show it as it is now
                self.beginResetModel()
                self._total = len(ids)
                self._ids = ids
                self.endResetModel()
                self.loaded.emit(self._total)
            else:
                self._ids = ids
                # The rows below the first page have ids now: repaint them if any was shown blank ("…"). Qt
                # repaints the whole viewport for a range, so not when none was (the first page fills the screen).
                if self._blank_asked and self._total > len(self._first_ids):
                    self._blank_asked = False
                    last = self.index(self._total - 1, _COLUMN_COUNT - 1)
                    self.dataChanged.emit(self.index(len(self._first_ids), 0), last)
            self.ids_ready.emit()

        self._worker.submit(first, on_first, self._on_error)

    def _submit(self, task: Callable[[], Any], on_done: Callable[[Any], None]) -> None:
        """A view's next read; none once the worker has shut down (the window is closing: nothing to show)."""
        try:
            self._worker.submit(task, on_done, self._on_error)
        except RuntimeError:
            log.debug("queue read not started: the database worker has shut down")

    def _show_page(self, first_ids: list[int], rows: dict[int, Any], total: int | None) -> None:
        """Reset the table to a view's first page; `total` None: not yet counted (the table holds the page)."""
        self.beginResetModel()
        self._loading = False
        self._blank_asked = False
        self._counted = total is not None
        self._total = len(first_ids) if total is None else total
        self._first_ids = first_ids
        self._ids = first_ids if total is not None and len(first_ids) >= total else None
        self._rows = dict(rows)
        self._cells.clear()
        self._pending_pages.clear()
        self._version_in_force = self._rules_version()
        self.endResetModel()
        self.page_shown.emit()

    def _counted_rows(self, total: int, rows: dict[int, Any]) -> None:
        """The count of the view shown: the rows below its first page appear (the page itself is unchanged)."""
        changed = [i for i, row in rows.items() if self._rows.get(i) != row]
        self._rows.update(rows)
        for referral_id in changed:
            self._cells.pop(referral_id, None)
        shown = len(self._first_ids)
        if total > shown:
            self.beginInsertRows(QModelIndex(), shown, total - 1)
            self._total = total
            self._counted = True
            self.endInsertRows()
        else:
            self._total, self._counted = total, True
        if len(self._first_ids) >= self._total:
            self._ids = self._first_ids
        if changed and shown:
            self.dataChanged.emit(self.index(0, 0), self.index(shown - 1, _COLUMN_COUNT - 1))

    def clock(self) -> RttClock:
        """Today's 18-week clock, with the rules' warning week."""
        return RttClock(self._today(), self._warning_weeks())

    def show_breaches_first(self) -> None:
        """Order the current view by the 18-week clock: 18 weeks or more, then the warning weeks, then the rest."""
        if self.view is not None:
            self.load(QueueView(self.view.queue_filter, SORT_BREACHES, True))

    def reload(self) -> None:
        """Load the current view again (after a change elsewhere), counted with its first page."""
        if self.view is not None:
            self.load(self.view, count_first=True)

    def refresh_shown(self) -> None:
        """Read again the rows fetched so far that carry the not-yet-reassessed marker (a background reassessment
        has saved a batch): each repaints without it once reassessed, or the view reloads if its order changed.
        At most once per REFRESH_MS, so batches done back to back cost one read."""
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _refresh_marked(self) -> None:
        marked = {referral_id for referral_id, cells in self._cells.items() if cells.not_reassessed}
        if marked:
            self.refresh_rows(marked)

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

        # through _submit: a batch saved as the window closes must not schedule a read on a stopped worker
        self._submit(lambda: queue.rows_in_view(db, ids=named, queue_filter=queue_filter), on_rows)

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
                self.dataChanged.emit(self.index(first, 0), self.index(last, _COLUMN_COUNT - 1))

        clock = self.clock()
        self._submit(lambda: queue.page(db, ids=wanted, clock=clock), on_page)

    # --- lookups -------------------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Rows in the table: the view's count once `counted`, until then its first page's."""
        return self._total

    @property
    def counted(self) -> bool:
        """True once the view has been counted (`total` is then its count)."""
        return self._counted

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

    # flags: Qt's own (enabled, selectable, never has children): the same as this model's, without a Python call
    # per cell painted.

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        # Qt's own asks rowCount and columnCount (two Python calls) for every cell it paints.
        if 0 <= row < self._total and 0 <= column < _COLUMN_COUNT and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def _cells_of(self, row: Any) -> _Cells:
        cells = self._cells.get(row.id)
        if cells is None:
            clock = self.clock()
            band = _BANDS.get(clock.band(row.received_on) or "")
            cells = self._cells[row.id] = _Cells(
                tuple(display(row, c, clock) for c in range(_COLUMN_COUNT)),
                None if band is None else QBrush(QColor(scheme_colour(band))),
                not_reassessed(row, self._version_in_force),
            )
        return cells

    def cells_at(self, row_number: int) -> _Cells | None:
        """The row `row_number` as painted (texts, band, marker), or None while it is not fetched: the queue's
        delegate draws plain cells from this, without a `multiData` call."""
        ids = self._ids if self._ids is not None else self._first_ids
        if 0 <= row_number < len(ids):
            row = self._rows.get(ids[row_number])
            if row is not None:
                return self._cells.get(row.id) or self._cells_of(row)
        return None

    def _marker_icon(self) -> QIcon:
        if self._marker is None:
            style = QApplication.style()
            self._marker = style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload)
        return self._marker

    def multiData(self, index: QModelIndex | QPersistentModelIndex, roleDataSpan: Any) -> None:  # noqa: N802, N803
        """Every role a painted cell asks for, in one call (the delegate asks seven).

        Every slot of the span is set, to a value or to nothing: Qt's delegate hands the same span to every cell,
        so a slot left alone would show the previous cell's icon, colour or alignment. Qt's delegate asks in one
        fixed order (font, alignment, foreground, check state, decoration, display, background); the slots this
        model answers are checked before the quick path is taken, else each role is answered by `data`.
        """
        row_number, column = index.row(), index.column()
        ids = self._ids if self._ids is not None else self._first_ids
        row = self._rows.get(ids[row_number]) if 0 <= row_number < len(ids) and 0 <= column < _COLUMN_COUNT else None
        if row is not None and len(roleDataSpan) == 7:
            alignment, decoration, display_slot, background = (roleDataSpan[i] for i in (1, 4, 5, 6))
            if (
                display_slot.role() == _DISPLAY
                and alignment.role() == _ALIGNMENT
                and decoration.role() == _DECORATION
                and background.role() == _BACKGROUND
            ):
                cells = self._cells.get(row.id) or self._cells_of(row)
                # Empty slots are cleared, never set to None (a None crossing into C++ is what PySide6 6.12 loses
                # a reference on: see README, Design).
                display_slot.setData(cells.texts[column])
                if column in _RIGHT_COLUMNS:
                    alignment.setData(_RIGHT)
                else:
                    alignment.clearData()
                if column == COL_WEEKS and cells.band is not None:
                    background.setData(cells.band)
                else:
                    background.clearData()
                if column == COL_OUTCOME and cells.not_reassessed:
                    decoration.setData(self._marker_icon())
                else:
                    decoration.clearData()
                return  # the font, foreground and check state slots: never set by this model, so still empty
        for role_data in roleDataSpan:  # a QModelRoleDataSpan: a sequence
            value = self.data(index, role_data.role())
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():
            return None  # most roles a view asks for are not ours: answer before any work
        row_number, column = index.row(), index.column()
        if row_number >= self._total or column >= _COLUMN_COUNT:
            return None
        row = self.queue_row(row_number)
        if row is None:
            if self._ids is not None:
                self._request_page(row_number // PAGE_SIZE)
            else:
                self._blank_asked = True  # shown as "…" until every id of the view is in
            if role == ID_ROLE:
                return self.id_at(row_number)
            return LOADING_TEXT if role == Qt.ItemDataRole.DisplayRole and column == 0 else None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells_of(row).texts[column]
        if role == ID_ROLE:
            return row.id
        if role == OBJECT_ROLE:
            return row
        if role == SORT_ROLE:
            return sort_value(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = tooltip(row, column, self.clock())
            if column == COL_OUTCOME and self._cells_of(row).not_reassessed:
                return f"{NOT_REASSESSED_TEXT} ({self._version_in_force}); assessed with rules {row.rules_version}"
            return text
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in _RIGHT_COLUMNS else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._cells_of(row).band if column == COL_WEEKS else None
        if role == Qt.ItemDataRole.DecorationRole:
            return self._marker_icon() if column == COL_OUTCOME and self._cells_of(row).not_reassessed else None
        text = f"{COLUMNS[column]}: {self._cells_of(row).texts[column]}"  # AccessibleTextRole
        if column == COL_OUTCOME and self._cells_of(row).not_reassessed:
            text += f" ({NOT_REASSESSED_TEXT.lower()})"
        return text

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
