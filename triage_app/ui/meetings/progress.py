"""The in-meeting screen's progress strip: every case of the meeting in order, whether its outcome is recorded,
the case on screen highlighted; a click asks to go to that case.

A button holds its case by referral id, never by position: the screen finds the case again in what it last read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QSizePolicy, QToolButton, QWidget

from triage_app.domain.meetings import MEETING_OUTCOME_LABELS
from triage_app.ui.meetings.text import initials_label, scaled

if TYPE_CHECKING:
    from triage_app.services.meetings import ListedCase

#: What a case's button says of its outcome.
RECORDED_MARK, OPEN_MARK = "✔", "○"


class CaseStrip(QScrollArea):
    """One button per case: `3 · CARROWGATE P ✔`; the current one checked and bold."""

    #: The user clicked a case: its referral id.
    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Progress through the meeting's cases")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.buttons: dict[int, QToolButton] = {}  # by referral id
        self._inner = QWidget()
        self._row = QHBoxLayout(self._inner)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(4)
        self._row.addStretch(1)
        self.setWidget(self._inner)
        self._font = scaled(self.font(), 1.05)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # The case on screen stands out from across the room, in the desktop's own highlight colours.
        self.setStyleSheet(
            "QToolButton:checked { background: palette(highlight); color: palette(highlighted-text); "
            "border: 1px solid palette(highlight); padding: 2px 6px; }"
        )

    def show_cases(self, cases: tuple[ListedCase, ...], current: int | None) -> None:
        """Rebuild the strip for these cases; `current` is the referral id on screen."""
        for button in self.buttons.values():
            self._row.removeWidget(button)
            button.hide()  # until it is deleted it would still paint over its successor
            button.deleteLater()
        self.buttons = {}
        for number, case in enumerate(cases, start=1):
            recorded = case.outcome is not None
            button = QToolButton()
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys move between cases (PgUp/PgDn)
            button.setText(f"{number} · {initials_label(case)} {RECORDED_MARK if recorded else OPEN_MARK}")
            outcome = MEETING_OUTCOME_LABELS.get(case.outcome or "", "") if recorded else "not yet recorded"
            button.setToolTip(f"Case {number}: outcome {outcome}")
            button.setAccessibleName(f"Case {number}, {initials_label(case)}, outcome {outcome}")
            button.clicked.connect(lambda _checked=False, rid=case.referral_id: self.chosen.emit(rid))
            button.setFont(scaled(self._font, 1.0, bold=True))
            button.setMinimumWidth(button.sizeHint().width())  # as wide as when it is current (bold): never elided
            self._row.insertWidget(self._row.count() - 1, button)
            button.show()  # now, not on the next pass of the event loop: the strip is never blank
            self.buttons[case.referral_id] = button
        self.mark_current(current)
        height = max((b.sizeHint().height() for b in self.buttons.values()), default=0)
        self.setFixedHeight(height + self.horizontalScrollBar().sizeHint().height() + 2 if height else 0)

    def mark_current(self, current: int | None) -> None:
        """Check and embolden the case on screen, and scroll it into view."""
        for rid, button in self.buttons.items():
            on = rid == current
            button.setChecked(on)
            button.setFont(scaled(self._font, 1.0, bold=on))
            if on:
                self.ensureWidgetVisible(button)

    def text_of(self, referral_id: int) -> str:
        """What the strip says of a case (tests and screen readers)."""
        button = self.buttons.get(referral_id)
        return "" if button is None else button.text()
