"""The referral queue as a lazy table model: ids in order, rows fetched a page at a time off the GUI thread.

Filtering and sorting happen in SQL. Loading a view is two steps, so the first screen paints at once: the
count and first page together, then every id of the view; rows are fetched by page as they scroll into view.

The 18-week clock is read for today on every load (H07): the model puts today's `RttClock` into each view's
filter, so the weeks column, the `rtt_breach_risk` caution and view, and the "breaches first" order (a click on
the Wks header) are today's, not those of the day a referral was scored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.meetings import triage_text
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.scoring import FLAGS, RTT_BREACHED, RTT_WARNING, RttClock, age_in_years
from triage_app.domain.workflow import STATUS_LABELS
from triage_app.ui.worker import DbWorker

log = logging.getLogger(__name__)

PAGE_SIZE = 100

COL_PRIORITY, COL_NHS, COL_NAME, COL_AGE, COL_RECEIVED, COL_WEEKS, COL_OUTCOME, COL_FLAGS, COL_STATUS, COL_MEETING = (
    range(10)
)
COLUMNS = ("Pri", "NHS number", "Name", "Age", "Received", "Wks", "Triage", "Cautions", "Status", "Meeting")
COLUMN_TOOLTIPS = (
    "Priority 0-100: severity + pain + waiting (highest first)",
    "NHS number",
    "FAMILY, Given",
    "Age in whole years today",
    "Date the referral was received",
    "Weeks waiting today since received (18-week referral-to-treatment clock); ! marks the warning week, ‼ a breach. "
    "Click to show breaches first (18 weeks or more, then from the warning week, then the rest, each by priority)",
    "Triage: the consultant's standing decision, or the computed outcome awaiting a consultant",
    "Caution flags (hover for what each means)",
    "Workflow status",
    "The MDT meeting the referral is listed on",
)
#: column -> SQL sort key and whether a click first sorts descending
SORT_KEYS: dict[int, tuple[str, bool]] = {
    COL_PRIORITY: ("priority", True),
    COL_NHS: ("nhs_number", False),
    COL_NAME: ("name", False),
    COL_AGE: ("date_of_birth", False),  # oldest first = earliest date of birth
    COL_RECEIVED: ("received_on", False),
    COL_WEEKS: ("breaches", True),  # breaches first: 18 weeks or more, then the warning weeks, each by priority
    COL_OUTCOME: ("outcome", False),
    COL_STATUS: ("status", False),
}

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
_BREACH = QBrush(QColor(220, 80, 60, 90))
_WARNING = QBrush(QColor(240, 170, 40, 90))


#: The "breaches first" order (storage.referrals.SORT_BREACHES): 18 weeks or more, then from the warning week,
#: then the rest, each by priority.
SORT_BREACHES = "breaches"


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
        self.view: QueueView | None = None

    # --- loading -------------------------------------------------------------------------------------------

    def load(self, view: QueueView) -> None:
        """Show `view`: count and first page, then every id. Results of an older load are dropped."""
        from triage_app.services import queue

        self._generation += 1
        generation = self._generation
        view = QueueView(replace(view.queue_filter, clock=self.clock()), view.sort, view.descending)
        self.view = view
        db = self._database()

        def first() -> Any:
            return queue.snapshot(
                db, queue_filter=view.queue_filter, sort=view.sort, descending=view.descending, page_size=PAGE_SIZE
            )

        def on_first(result: Any) -> None:
            if generation != self._generation:
                return
            self.beginResetModel()
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

    def refresh_rows(self, referral_ids: set[int] | frozenset[int]) -> None:
        """Fetch these referrals' lines again and repaint them where they are shown."""
        from triage_app.services import queue

        known = [i for i in referral_ids if i in self._rows]
        if not known:
            return
        generation = self._generation
        db = self._database()

        def on_rows(rows: dict[int, Any]) -> None:
            if generation != self._generation:
                return
            for referral_id in known:
                self._cells.pop(referral_id, None)
                if referral_id in rows:
                    self._rows[referral_id] = rows[referral_id]
                else:
                    self._rows.pop(referral_id, None)
                row = self.row_of(referral_id)
                if row is not None:
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

        clock = self.clock()
        self._worker.submit(lambda: queue.page(db, ids=known, clock=clock), on_rows, self._on_error)

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
                cells = self._cells[row.id] = tuple(self._display(row, c) for c in range(len(COLUMNS)))
            return cells[column]
        if role == ID_ROLE:
            return row.id
        if role == OBJECT_ROLE:
            return row
        if role == SORT_ROLE:
            return self._sort_value(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in (COL_PRIORITY, COL_AGE, COL_WEEKS) else None
        if role == Qt.ItemDataRole.BackgroundRole:
            if column != COL_WEEKS:
                return None
            return {RTT_BREACHED: _BREACH, RTT_WARNING: _WARNING}.get(self.clock().band(row.received_on) or "")
        return f"{COLUMNS[column]}: {self._display(row, column)}"  # AccessibleTextRole

    def _display(self, row: Any, column: int) -> str:
        if column == COL_PRIORITY:
            return "" if row.priority is None else str(row.priority)
        if column == COL_NHS:
            return format_nhs_number(row.nhs_number)
        if column == COL_NAME:
            return format_name(row.family_name, row.given_name)
        if column == COL_AGE:
            return "" if row.date_of_birth is None else str(age_in_years(row.date_of_birth, self._today()))
        if column == COL_RECEIVED:
            return format_date(row.received_on)
        if column == COL_WEEKS:
            clock = self.clock()
            weeks = clock.weeks(row.received_on)
            if weeks is None:
                return ""
            mark = {RTT_BREACHED: " ‼", RTT_WARNING: " !"}.get(clock.band(row.received_on) or "", "")
            return f"{weeks}{mark}"
        if column == COL_OUTCOME:  # the standing decision, else the computed outcome awaiting a consultant
            return triage_text(row.outcome, row.decided_outcome, row.decision_kind)
        if column == COL_FLAGS:
            return " · ".join(FLAGS[f][0] if f in FLAGS else f for f in row.flags)
        if column == COL_STATUS:
            return STATUS_LABELS.get(row.status, row.status)
        if column == COL_MEETING and row.meeting:
            day, _, time_text = row.meeting.partition(" ")
            return f"{format_date(date.fromisoformat(day))} {time_text}"
        return ""

    def _tooltip(self, row: Any, column: int) -> str | None:
        if column == COL_FLAGS and row.flags:
            return "\n".join(f"{FLAGS[f][0]}: {FLAGS[f][1]}" if f in FLAGS else f for f in row.flags)
        if column == COL_WEEKS:
            text = self.clock().describe(row.received_on)
            return text[:1].upper() + text[1:]
        if column == COL_NAME and row.hospital_number:
            return f"Hospital number {row.hospital_number}"
        return None

    def _sort_value(self, row: Any, column: int) -> Any:
        values = {
            COL_PRIORITY: row.priority,
            COL_NHS: row.nhs_number,
            COL_NAME: (row.family_name or "").upper(),
            COL_AGE: row.date_of_birth,
            COL_RECEIVED: row.received_on,
            COL_WEEKS: row.received_on,
            COL_OUTCOME: row.outcome,
            COL_FLAGS: len(row.flags),
            COL_STATUS: row.status,
            COL_MEETING: row.meeting,
        }
        return values.get(column)

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
