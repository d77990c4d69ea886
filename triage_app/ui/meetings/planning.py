"""The planning screen: the ready list, the meeting's cases in order, and the actions that plan them.

Each action is an op run through `AppContext.run`: it returns the service's `Changes`, which the context
broadcasts, and every view (this window included) refreshes its own part from it. The lists keep their
selection by referral id across those refreshes, so a case moved up stays selected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.meetings import MEETING_OUTCOME_LABELS, OPEN_MEETING_STATUSES
from triage_app.services.meeting_inputs import capacity_warning
from triage_app.services.permissions import PLAN_MEETING, who_may
from triage_app.ui.meetings.dialogs import Confirmation
from triage_app.ui.meetings.exports import ExportBar
from triage_app.ui.meetings.ops import add_case_op, circulate_op, fill_op, remove_case_op, reorder_op
from triage_app.ui.meetings.screen import MeetingScreen
from triage_app.ui.meetings.text import referral_line

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.meetings import MeetingDetail
    from triage_app.storage.referrals import QueueRow
    from triage_app.ui.context import AppContext


#: Where a list item keeps its referral (or, in the meetings list, its meeting) id.
ID_ROLE = Qt.ItemDataRole.UserRole + 1


def item_id(item: QListWidgetItem) -> int:
    """The id an item of these lists stands for."""
    return int(item.data(ID_ROLE))


class IdList(QListWidget):
    """A list of referrals that keeps its selection by referral id when it is filled again."""

    def ids(self) -> list[int]:
        """Referral ids in the order shown."""
        return [item_id(self.item(i)) for i in range(self.count())]

    def selected_ids(self) -> list[int]:
        """The selected referrals, in the order shown."""
        return [item_id(self.item(i)) for i in range(self.count()) if self.item(i).isSelected()]

    def current_id(self) -> int | None:
        """The referral of the current row, or None."""
        item = self.currentItem()
        return None if item is None else item_id(item)

    def fill(self, lines: Iterable[tuple[int, str]]) -> None:
        """Show these (referral id, text) lines, keeping the current and the selected referrals still listed."""
        current, selected = self.current_id(), set(self.selected_ids())
        self.blockSignals(True)
        self.clear()
        for referral_id, text in lines:
            item = QListWidgetItem(text)
            item.setData(ID_ROLE, referral_id)
            self.addItem(item)
            if referral_id == current:  # the current row follows its referral, wherever it moved
                self.setCurrentItem(item, QItemSelectionModel.SelectionFlag.NoUpdate)
            item.setSelected(referral_id in selected)
        self.blockSignals(False)


class MeetingList(IdList):
    """The meeting's cases: reorder by dragging; referrals dragged in from the ready list are added."""

    reordered = Signal(list)
    add_requested = Signal(int)

    def __init__(self, ready: QListWidget) -> None:
        super().__init__()
        self.ready = ready
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setAccessibleName("Cases on this meeting, in order")

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        if event.source() is self.ready:
            for item in self.ready.selectedItems():
                self.add_requested.emit(item_id(item))
            event.ignore()
            return
        super().dropEvent(event)
        self.reordered.emit(self.ids())


class PlanningScreen(MeetingScreen):
    """Ready referrals on the left, the meeting's cases on the right, the export bar below."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        layout = QGridLayout(self)
        self.ready = IdList()
        self.ready.setAccessibleName("Referrals ready for MDT, highest priority first")
        self.ready.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.ready.setDragEnabled(True)
        self.ready.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.cases = MeetingList(self.ready)
        self.cases.add_requested.connect(self.add_case)
        self.cases.reordered.connect(self.reorder)
        self.add_button = QPushButton("Add →")
        self.add_button.clicked.connect(self.add_selected)
        self.remove_button = QPushButton("← Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.fill_button = QPushButton("&Fill to capacity")
        self.fill_button.clicked.connect(self.fill)
        self.up_button = QPushButton("Move up")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button = QPushButton("Move down")
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        middle = QVBoxLayout()
        for button in (self.add_button, self.remove_button, self.fill_button, self.up_button, self.down_button):
            middle.addWidget(button)
        middle.addStretch(1)
        self.exports = ExportBar(context)
        self.exports.message.connect(self.message)
        self.exports.refresh_wanted.connect(self.refresh_wanted)
        self.circulate_button = QPushButton("Mark agenda &circulated")
        self.circulate_button.setToolTip("Cases added after this are marked as late additions")
        self.circulate_button.clicked.connect(self.circulate)
        bottom = QHBoxLayout()
        bottom.addWidget(self.exports)
        bottom.addWidget(self.circulate_button)
        layout.addWidget(QLabel("Ready for MDT (drag across, or Add)"), 0, 0)
        layout.addWidget(QLabel("On this meeting (drag to reorder)"), 0, 2)
        layout.addWidget(self.ready, 1, 0)
        layout.addLayout(middle, 1, 1)
        layout.addWidget(self.cases, 1, 2)
        layout.addLayout(bottom, 2, 0, 1, 3)

    # --- showing ---------------------------------------------------------------------------------------------

    def show_lists(self, detail: MeetingDetail | None, ready_ids: list[int], rows: Mapping[int, QueueRow]) -> None:
        """The ready list and the meeting's cases as read; each keeps its selection by referral id."""
        self.detail = detail
        self.ready.fill((rid, referral_line(rows.get(rid))) for rid in ready_ids)
        lines: list[tuple[int, str]] = []
        for case in detail.cases if detail is not None else ():
            marks = "  [LATE ADDITION]" if case.late_addition else ""
            if case.row is not None and case.row.decided_outcome is None:
                marks += "  [TRIAGE CHANGED: RECONFIRM]"
            outcome = f"  → {MEETING_OUTCOME_LABELS[case.outcome]}" if case.outcome else ""
            lines.append((case.referral_id, f"{case.position}. {referral_line(case.row)}{marks}{outcome}"))
        self.cases.fill(lines)
        self.exports.show_meeting(detail)
        self.enable()

    def enable(self) -> None:
        """Planning controls follow the meeting's status and the role matrix; a disabled one says who may use it."""
        planner = self.context.may(PLAN_MEETING)
        is_open = self.detail is not None and self.detail.meeting.status in OPEN_MEETING_STATUSES
        for widget in (
            self.add_button,
            self.remove_button,
            self.fill_button,
            self.up_button,
            self.down_button,
            self.circulate_button,
        ):
            widget.setEnabled(is_open and planner)
        # Dragging plans the list too: only a planner can drag referrals across or reorder them.
        self.ready.setDragEnabled(planner)
        self.cases.setDragDropMode(
            QAbstractItemView.DragDropMode.DragDrop if planner else QAbstractItemView.DragDropMode.NoDragDrop
        )
        if not planner:
            for widget in (self.add_button, self.fill_button, self.circulate_button):
                widget.setToolTip(who_may(PLAN_MEETING))
        self.exports.enable()

    # --- planning actions ------------------------------------------------------------------------------------

    def _meeting_id(self) -> int | None:
        """The meeting on screen: every planning action acts on the one the user sees."""
        return None if self.detail is None else self.detail.meeting.id

    def _run(self, op: Callable[[AppSession], object], title: str) -> None:
        """Run a planning op; its broadcast refreshes this window and the main window's rows and counts."""
        self.context.run(op, title=title, on_failure=self.failure(title))

    def add_case(self, referral_id: int) -> None:
        """Put a ready referral on this meeting (asked first when it would go over capacity)."""
        self.add_cases([referral_id])

    def add_selected(self) -> None:
        """Add the referrals selected in the ready list."""
        self.add_cases(self.ready.selected_ids())

    def add_cases(self, referral_ids: list[int]) -> None:
        """Add these referrals; a list that would go over capacity says so in words and asks first."""
        meeting_id = self._meeting_id()
        if meeting_id is None or not referral_ids or self.detail is None:
            return
        warning = capacity_warning(len(self.detail.cases) + len(referral_ids), self.detail.capacity)
        if warning is not None and not Confirmation.ask(
            self, "Over capacity", f"{warning}.\n\nAdd all the same?", "&Add all the same"
        ):
            return
        for referral_id in referral_ids:
            self._run(add_case_op(meeting_id, referral_id), "Case not added")

    def remove_selected(self) -> None:
        """Take the selected cases off the list."""
        meeting_id = self._meeting_id()
        if meeting_id is None:
            return
        for referral_id in self.cases.selected_ids():
            self._run(remove_case_op(meeting_id, referral_id), "Case not removed")

    def fill(self) -> None:
        """Fill to capacity with the highest-priority ready referrals."""
        meeting_id = self._meeting_id()
        if meeting_id is not None:
            self._run(fill_op(meeting_id), "List not filled")

    def move_selected(self, offset: int) -> None:
        """Move the current case up or down one place; it stays the current case once the order is stored."""
        row = self.cases.currentRow()
        target = row + offset
        if row < 0 or not 0 <= target < self.cases.count():
            return
        ids = self.cases.ids()
        ids.insert(target, ids.pop(row))
        self.reorder(ids)

    def reorder(self, ids: list[int]) -> None:
        """Store the order shown."""
        meeting_id = self._meeting_id()
        if meeting_id is not None:
            self._run(reorder_op(meeting_id, ids), "Order not saved")

    def circulate(self) -> None:
        """Mark the agenda as circulated."""
        meeting_id = self._meeting_id()
        if meeting_id is not None:
            self._run(circulate_op(meeting_id), "Not marked circulated")
