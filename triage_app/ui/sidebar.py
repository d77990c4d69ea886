"""The left panel: saved views of the queue with live counts (by outcome, status and caution flag).

The RTT risk view is today's (the queue model reads every view with today's 18-week clock), not the caution
stored when each referral was scored; its count is today's when the window asks `services.queue.counts` with
that clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from triage_app.domain.scoring import FLAGS, OUTCOME_LABELS, OUTCOMES, RTT_FLAG
from triage_app.domain.workflow import STATUS_LABELS, STATUSES

if TYPE_CHECKING:
    from triage_app.domain.scoring import RttClock
    from triage_app.services.changes import Changes
    from triage_app.services.queue import QueueCounts
    from triage_app.ui.context import AppContext

KIND_ROLE = Qt.ItemDataRole.UserRole + 1
VALUE_ROLE = Qt.ItemDataRole.UserRole + 2


#: How long the arrow keys rest on a view before the queue shows it (holding Down does not read every view).
FOLLOW_MS = 250


class QueueSidebar(QTreeWidget):
    """Click a view to filter the queue by it; counts update when referrals change."""

    view_chosen = Signal(str, object)  # kind ("all", "outcome", "status", "flag"), value
    counted = Signal(object)  # the QueueCounts just shown

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        context: AppContext | None = None,
        clock: Callable[[], RttClock] | None = None,
    ) -> None:
        super().__init__(parent)
        self._context = context
        self._clock = clock
        if context is not None:
            context.changed.connect(self.apply_changes)
        self.setHeaderLabels(["View", "Count"])
        self.setColumnCount(2)
        self.setRootIsDecorated(False)
        self.setAccessibleName("Queue views")
        self.setToolTip("Saved views of the queue; the number is how many referrals each holds")
        self._items: dict[tuple[str, str | int | None], QTreeWidgetItem] = {}
        queue = self._section("Queue")
        self._add(queue, "all", None, "All referrals")
        for outcome in OUTCOMES:
            self._add(queue, "outcome", outcome, OUTCOME_LABELS[outcome])
        status = self._section("Status")
        for value in STATUSES:
            self._add(status, "status", value, STATUS_LABELS[value])
        cautions = self._section("Cautions")
        for flag, (label, explanation) in FLAGS.items():
            item = self._add(cautions, "flag", flag, label)
            if flag == RTT_FLAG:
                explanation += " The view lists the referrals at or past the warning week today, not when scored."
            item.setToolTip(0, explanation)
        self.meetings_section = self._section("Meetings")
        self.expandAll()
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        # The arrow keys move the highlight, and the queue follows it once the keys rest: before, the highlight
        # stood on "Out of scope" while the queue still showed every referral until Enter (seen under Xvfb).
        self._follow = QTimer(self)
        self._follow.setSingleShot(True)
        self._follow.setInterval(FOLLOW_MS)
        self._follow.timeout.connect(lambda: self._choose(self.currentItem()))
        self.currentItemChanged.connect(lambda _now, _before: self._follow.start())

    def _section(self, title: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([title, ""])
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.addTopLevelItem(item)
        return item

    def _add(self, parent: QTreeWidgetItem, kind: str, value: str | int | None, label: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([label, ""])
        item.setData(0, KIND_ROLE, kind)
        item.setData(0, VALUE_ROLE, value)
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        parent.addChild(item)
        self._items[(kind, value)] = item
        return item

    def _clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        self._follow.stop()  # a click or Enter chooses at once (a click also moved the highlight)
        self._choose(item)

    def _choose(self, item: QTreeWidgetItem | None) -> None:
        kind = None if item is None else item.data(0, KIND_ROLE)
        if kind and item is not None:
            self.view_chosen.emit(kind, item.data(0, VALUE_ROLE))

    def item_for(self, kind: str, value: str | int | None) -> QTreeWidgetItem | None:
        """The tree item of one view (tests and keyboard navigation use it)."""
        return self._items.get((kind, value))

    def apply_changes(self, changes: Changes) -> None:
        """The side panel's part of a change: recount, unless only users changed (no count shows them)."""
        if changes.everything or changes.rules or changes.all_referrals or changes.meetings or changes.meeting_ids:
            self.recount()

    def recount(self) -> None:
        """Count every view again on the worker (with today's 18-week clock, as the RTT view lists it)."""
        context = self._context
        if context is None or context.session is None:
            return
        from triage_app.services import queue

        clock = self._clock() if self._clock is not None else None
        context.query(
            lambda session: queue.counts(session.db, actor=session.actor, clock=clock),
            title="Counts",
            on_success=self.set_counts,
        )

    def set_counts(self, counts: QueueCounts) -> None:
        """Show a `QueueCounts`."""
        self._set("all", None, counts.total)
        for outcome in OUTCOMES:
            self._set("outcome", outcome, counts.by_outcome.get(outcome, 0))
        for status in STATUSES:
            self._set("status", status, counts.by_status.get(status, 0))
        for flag in FLAGS:
            self._set("flag", flag, counts.by_flag.get(flag, 0))
        for key in [k for k in self._items if k[0] == "meeting"]:
            self._items.pop(key)
        self.meetings_section.takeChildren()
        for meeting_id, label, listed in counts.meetings:
            self._add(self.meetings_section, "meeting", meeting_id, label)
            self._set("meeting", meeting_id, listed)
        self.meetings_section.setExpanded(True)
        self.counted.emit(counts)

    def _set(self, kind: str, value: str | int | None, count: int) -> None:
        item = self._items[(kind, value)]
        item.setText(1, f"{count:,}")
        label = item.text(0)
        item.setData(0, Qt.ItemDataRole.AccessibleTextRole, f"{label}: {count}")
