"""The queue's own cell painter (`QueueDelegate`) paints exactly what Qt's `QStyledItemDelegate` paints.

The delegate draws plain text cells itself (the cost of a view's first paint) and hands every other cell to the
style: selected and focused cells, the 18-week bands, the not-yet-reassessed marker, rows not fetched yet. These
tests paint the same table both ways and compare the two images pixel for pixel, in the light and the dark scheme,
with a row selected, the table focused, cautions shown, bands and markers painted, a narrow column elided and a
font changed after the first paint.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QFont, QImage, QPalette
from PySide6.QtWidgets import QApplication, QStyledItemDelegate, QTableView

from tests.factories import AS_OF
from tests.ui.test_queue_model import ImmediateWorker
from triage_app.domain.rules import Rules
from triage_app.services.queue import QueueFilter
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.ui.queue_delegate import QueueDelegate
from triage_app.ui.queue_model import COL_FLAGS, COL_NAME, COL_OUTCOME, COL_WEEKS, QueueTableModel, QueueView
from triage_app.ui.queue_pane import set_up_table
from triage_app.ui.theme import dark_palette


def _table(qtbot: Any, db: Database, *, rules_version: str | None) -> tuple[QTableView, QueueTableModel]:
    worker = ImmediateWorker()
    model = QueueTableModel(
        worker,  # type: ignore[arg-type]
        lambda: db,
        today=lambda: AS_OF,
        warning_weeks=lambda: 12,
        rules_version=lambda: rules_version,
    )
    table = QTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    set_up_table(table)
    table.resize(1200, 500)
    model.load(QueueView(QueueFilter()))
    table.show()
    qtbot.waitExposed(table)
    return table, model


def _grab(table: QTableView) -> QImage:
    QApplication.processEvents()  # the table's delayed layout (scroll bars, after a column's width changed)
    table.viewport().update()
    return table.grab().toImage()


def _differing(one: QImage, other: QImage) -> int:
    assert one.size() == other.size()
    if one == other:
        return 0
    return sum(one.pixel(x, y) != other.pixel(x, y) for y in range(one.height()) for x in range(one.width()))


def _same_both_ways(table: QTableView) -> int:
    """Paint `table` with a new queue delegate twice (every text first drawn as it is, then laid out once and drawn
    from that) and with Qt's; return how many pixels differ from Qt's in both."""
    assert isinstance(table.itemDelegate(), QueueDelegate)
    table.setItemDelegate(QueueDelegate(table))
    first, again = _grab(table), _grab(table)
    table.setItemDelegate(QStyledItemDelegate(table))
    theirs = _grab(table)
    table.setItemDelegate(QueueDelegate(table))
    return _differing(first, theirs) + _differing(again, theirs)


@pytest.fixture
def demo(db: Database, admin: Actor, rules: Rules) -> Database:
    from triage_app.services.demo import load_demo

    load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=40)
    return db


@pytest.mark.hazard("H05")
@pytest.mark.hazard("H06")
@pytest.mark.hazard("H07")
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("marked", [False, True], ids=["assessed", "not-yet-reassessed"])
def test_the_queue_paints_as_qt_paints_it(qtbot: Any, demo: Database, dark: bool, marked: bool) -> None:
    """Every pixel of the queue (text, cautions, bands, markers, the selected row, the focus) is as Qt paints it."""
    table, model = _table(qtbot, demo, rules_version="spd-2099.1" if marked else None)
    if dark:
        table.setPalette(dark_palette())
    table.selectRow(2)
    table.setFocus()
    painted = [model.cells_at(row) for row in range(model.rowCount())]
    assert all(cells is not None for cells in painted)
    assert any(cells.band is not None for cells in painted if cells)  # the 18-week bands are on screen (H07)
    assert any(cells.texts[COL_FLAGS] for cells in painted if cells)  # cautions are on screen (H06)
    assert any(cells.not_reassessed for cells in painted if cells) == marked  # the marker (H05)
    assert _same_both_ways(table) == 0


def test_elided_text_and_a_new_font_paint_as_qt_paints_them(qtbot: Any, demo: Database) -> None:
    """A column narrower than its text is elided as Qt elides it; a font set after the first paint is used."""
    table, _model = _table(qtbot, demo, rules_version=None)
    table.setColumnWidth(COL_NAME, 60)
    table.setColumnWidth(COL_OUTCOME, 70)
    table.setColumnWidth(COL_WEEKS, 38)
    assert _same_both_ways(table) == 0
    bigger = QFont(table.font())
    bigger.setPointSizeF(bigger.pointSizeF() * 1.4)
    table.setFont(bigger)
    assert _same_both_ways(table) == 0


def test_a_disabled_or_inactive_table_paints_as_qt_paints_it(qtbot: Any, demo: Database) -> None:
    """The text's colour group follows the table's state (disabled: a read-only moment; another window active)."""
    table, _model = _table(qtbot, demo, rules_version=None)
    palette = QPalette(table.palette())
    palette.setColor(QPalette.ColorGroup.Inactive, QPalette.ColorRole.Text, palette.color(QPalette.ColorRole.Link))
    table.setPalette(palette)
    assert _same_both_ways(table) == 0
    table.setEnabled(False)
    assert _same_both_ways(table) == 0


def test_a_right_to_left_or_wrapping_table_paints_as_qt_paints_it(qtbot: Any, demo: Database) -> None:
    """The plain path draws one left-to-right line; a table set up otherwise is painted by the style throughout."""
    from PySide6.QtCore import Qt

    table, _model = _table(qtbot, demo, rules_version=None)
    table.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    assert _same_both_ways(table) == 0
