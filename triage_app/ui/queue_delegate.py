"""The queue table's cell painter: plain text cells drawn straight from the model's cached row.

Painting a screen of the queue (about 30 rows by 10 columns) through `QStyledItemDelegate` costs, per cell, a
Python `multiData` call answering seven roles and Qt's full item-view style path (a `QTextLayout` a cell, shaped
twice); that was most of the GUI thread's time to a view's first paint. Most cells are plain text: no selection,
no focus, no band colour, no icon. This delegate draws those from the model's cached cells (`cells_at`), elided
as the style elides them, placed where the style places them (its text margin, the model's alignment, centred as
the style centres a line) and in the palette's text colour for the cell's state: a text seen for the first time
with one `drawText`, a text seen before from a `QStaticText` laid out once (a repaint, a column's usual words).
Every other cell (selected, focused, hovered, banded, marked, a row not fetched yet) goes through
`QStyledItemDelegate` as before, so the selection, the focus frame, the 18-week band colours (H07) and the
not-yet-reassessed marker (H05) look exactly as they did; so does every cell of a table that is right-to-left,
wraps its text or elides it otherwise. The row background (alternating colours) and the grid are drawn by the
view either way. tests/ui/test_queue_delegate.py compares both ways pixel for pixel.

The text a cell shows comes from the model's row on every paint (the cache is keyed by the text itself), so a
refreshed row never paints its old text (H04).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QPointF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QFontMetricsF, QPainter, QPalette, QStaticText, QTransform
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView

from triage_app.ui.queue_columns import COL_OUTCOME, COL_WEEKS
from triage_app.ui.queue_model import RIGHT_COLUMNS

#: Cell states the plain path does not draw: the style draws them (highlight, focus frame, hover).
_STYLED_STATES = int(
    (QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus | QStyle.StateFlag.State_MouseOver).value
)
_ENABLED = int(QStyle.StateFlag.State_Enabled.value)
_ACTIVE = int(QStyle.StateFlag.State_Active.value)
_GROUP_STATES = _ENABLED | _ACTIVE  # the states that choose the text's colour group
_LOOK_CHANGES = frozenset(
    {
        QEvent.Type.FontChange,
        QEvent.Type.PaletteChange,
        QEvent.Type.StyleChange,
        QEvent.Type.ApplicationFontChange,
        QEvent.Type.ApplicationPaletteChange,
        QEvent.Type.LayoutDirectionChange,
    }
)
#: The most laid-out texts kept (text, width and alignment to what is drawn); emptied when full.
_TEXTS_KEPT = 5_000  # a few screens and each column's usual words


class QueueDelegate(QStyledItemDelegate):
    """Draws the queue's plain text cells directly; every other cell as `QStyledItemDelegate` draws it.

    Made for one table (`view`): its font, palette and style give the text's metrics, colours and margin, kept
    until the table's font, palette or style changes (a change of the system's colour scheme included).
    """

    def __init__(self, view: QTableView) -> None:
        super().__init__(view)
        self._view = view
        self._model: Any = None
        self._cells_at: Callable[[int], Any] | None = None
        self._metrics: QFontMetricsF | None = None
        self._height = 0
        self._margin = 3
        self._pens: dict[int, QColor] = {}
        self._font = QFont()
        self._elider = QFontMetrics(self._font)
        self._ascent = 0.0
        self._plain = True
        self._advances: dict[str, float] = {}  # each character's advance in the table's font
        # (text, cell width, right-aligned) -> (x in the cell, the text as shown, laid out once seen twice)
        self._texts: dict[tuple[str, int, bool], tuple[float, str, QStaticText | None]] = {}
        view.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Forget the metrics, colours and laid-out text when the table's font, palette, style or direction changes."""
        if event.type() in _LOOK_CHANGES:
            self._metrics = None
        return False

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        """Paint one cell: plain text cells directly, the rest through the style."""
        if self._metrics is None:
            self._look()
        model = index.model()
        if model is not self._model:
            self._model, self._cells_at = model, getattr(model, "cells_at", None)
        cells = self._cells_at(index.row()) if self._cells_at is not None and self._plain else None
        column = index.column()
        state = option.state.value
        if (
            cells is None  # not fetched yet (the model answers "…" and asks for the page), another model, RTL
            or state & _STYLED_STATES
            or (column == COL_WEEKS and cells.band is not None)
            or (column == COL_OUTCOME and cells.not_reassessed)
        ):
            super().paint(painter, option, index)
            return
        text = cells.texts[column]
        if not text:
            return
        x, y, width, height = cast(tuple[int, int, int, int], option.rect.getRect())  # one call, not four
        right = column in RIGHT_COLUMNS
        key = (text, width, right)
        drawn = self._texts.get(key)
        group = state & _GROUP_STATES
        painter.setPen(self._pens.get(group) or self._pen(group))
        top = y + (height - self._height) // 2  # the text's line centred as the style centres it
        if drawn is None:  # first sight (most names and numbers of a new view): drawn as it is, not laid out
            left, shown = self._place(text, width, right)
            self._texts[key] = (left, shown, None)
            painter.drawText(QPointF(x + left, top + self._ascent), shown)
            return
        static = drawn[2]
        if static is None:  # seen before (a repaint, a column's usual words): laid out once, drawn from then on
            static = QStaticText(drawn[1])
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(QTransform(), self._font)
            self._texts[key] = (drawn[0], drawn[1], static)
        painter.drawStaticText(QPointF(x + drawn[0], top), static)

    def _look(self) -> None:
        """The table's font metrics and text margin as the style has them; no colour or laid-out text kept."""
        view = self._view
        self._font = view.font()
        self._metrics = QFontMetricsF(self._font)
        self._elider = QFontMetrics(self._font)
        self._height = self._elider.height()
        self._ascent = self._metrics.ascent()
        self._margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
        # What the plain path draws: one left-to-right line elided on the right (as set_up_table sets the table up);
        # any other table is painted by the style throughout.
        self._plain = (
            view.layoutDirection() == Qt.LayoutDirection.LeftToRight
            and not view.wordWrap()
            and view.textElideMode() == Qt.TextElideMode.ElideRight
        )
        self._pens.clear()
        self._texts.clear()
        self._advances.clear()

    def _pen(self, group: int) -> QColor:
        """The text colour for a cell in this state, chosen as QCommonStyle chooses it."""
        if not group & _ENABLED:
            colour_group = QPalette.ColorGroup.Disabled
        else:
            colour_group = QPalette.ColorGroup.Normal if group & _ACTIVE else QPalette.ColorGroup.Inactive
        pen = self._pens[group] = self._view.palette().color(colour_group, QPalette.ColorRole.Text)
        return pen

    def _wider_than(self, text: str, room: int) -> bool:
        """False when `text` surely fits in `room` pixels: its characters' advances, a pixel each to spare for
        kerning, add up to no more. (A cheap bound: most cells fit, and measuring a text is a shaping.)"""
        advances = self._advances
        metrics = self._metrics
        assert metrics is not None
        total = 0.0
        for character in text:
            advance = advances.get(character)
            if advance is None:
                advance = advances[character] = metrics.horizontalAdvance(character)
            total += advance + 1.0
        return total > room

    def _place(self, text: str, width: int, right: bool) -> tuple[float, str]:
        """`text` elided to a cell `width` wide as the style elides it, and its x in the cell."""
        metrics = self._metrics
        assert metrics is not None
        if len(self._texts) >= _TEXTS_KEPT:
            self._texts.clear()
        room = width - 2 * self._margin
        if right or self._wider_than(text, room):
            shown = self._elider.elidedText(text, Qt.TextElideMode.ElideRight, room)
        else:
            shown = text  # fits with room to spare: as elidedText would return it, without measuring it
        return self._margin + (room - metrics.horizontalAdvance(shown) if right else 0), shown


__all__ = ["QueueDelegate"]
