"""The queue window: table model checks, sorting, filters, search, counts, keyboard, settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.factories import referral_json
from triage_app.storage.engine import Database
from triage_app.ui.dialogs import Messages
from triage_app.ui.main_window import GuiThreadDatabaseCall, MainWindow
from triage_app.ui.queue_model import COL_NAME, COL_NHS, COL_OUTCOME, COL_PRIORITY, COL_WEEKS, ID_ROLE


def shown_column(window: MainWindow, column: int) -> list[str]:
    model = window.model
    return [model.data(model.index(row, column)) for row in range(model.rowCount())]


def wait_idle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.worker.pending == 0 and window.model.all_ids_known, timeout=10_000)


@pytest.fixture
def queue_of_five(seed: Callable[..., list[int]]) -> list[int]:
    return seed(
        (1, {"severity__twstrs_total": 20, "patient__family_name": "Ashdale"}),
        (2, {"severity__twstrs_total": 80, "patient__family_name": "Bramwick", "patient__hospital_number": "H42"}),
        (3, {"referrer__role": "gp", "diagnosis__specialist_confirmed": False, "patient__family_name": "Cassford"}),
        (4, {"severity__twstrs_total": None, "patient__family_name": "Dunholm"}),
        (5, {"history__dysphagia": True, "patient__family_name": "Ellmere", "received_on": "2026-06-01"}),
    )


def test_queue_model_passes_qtmodeltester(
    qtmodeltester: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]
) -> None:
    window = open_window()
    qtmodeltester.check(window.model)


@pytest.mark.hazard("H08")
def test_queue_opens_highest_priority_first(open_window: Callable[..., MainWindow], queue_of_five: list[int]) -> None:
    window = open_window()
    priorities = [int(p) for p in shown_column(window, COL_PRIORITY)]
    assert priorities == sorted(priorities, reverse=True) and len(priorities) == 5
    assert shown_column(window, COL_NHS)[0].count(" ") == 2  # 3-3-4
    assert window.count_label.text() == "5 referrals shown"
    assert "BRAMWICK, " in shown_column(window, COL_NAME)[1] or "BRAMWICK, " in shown_column(window, COL_NAME)[0]


@pytest.mark.hazard("H07")
def test_weeks_waiting_are_marked_in_words_not_only_colour(
    qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]
) -> None:
    window = open_window()
    weeks = shown_column(window, COL_WEEKS)
    assert any(text.endswith("‼") for text in weeks)  # received 2026-06-01: past 18 weeks
    row = weeks.index(next(text for text in weeks if text.endswith("‼")))
    tooltip = window.model.data(window.model.index(row, COL_WEEKS), Qt.ItemDataRole.ToolTipRole)
    assert "past the 18-week" in tooltip


@pytest.mark.hazard("H08")
def test_sorting_happens_in_sql(qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]) -> None:
    window = open_window()
    window.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
    wait_idle(qtbot, window)
    names = shown_column(window, COL_NAME)
    assert names == sorted(names) and names[0].startswith("ASHDALE")
    assert window.model.view is not None and window.model.view.sort == "name"
    window.table.sortByColumn(COL_NAME, Qt.SortOrder.DescendingOrder)
    wait_idle(qtbot, window)
    assert shown_column(window, COL_NAME)[0].startswith("ELLMERE")


@pytest.mark.hazard("H06")
def test_filter_by_outcome_status_and_flag(
    qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]
) -> None:
    window = open_window()
    window.outcome_filter.setCurrentIndex(window.outcome_filter.findData("needs_information"))
    wait_idle(qtbot, window)
    assert shown_column(window, COL_OUTCOME) == ["Needs information (awaiting consultant)"]
    window.clear_filters()
    wait_idle(qtbot, window)
    assert window.model.rowCount() == 5
    window.sidebar.view_chosen.emit("flag", "dysphagia")
    wait_idle(qtbot, window)
    assert [n.split(",")[0] for n in shown_column(window, COL_NAME)] == ["ELLMERE"]
    assert window.flag_filter.currentData() == "dysphagia"
    window.sidebar.view_chosen.emit("status", "closed")
    wait_idle(qtbot, window)
    assert window.model.rowCount() == 0 and window.flag_filter.currentData() is None


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("bram", "BRAMWICK"),
        ("h42", "BRAMWICK"),
        ("Cassford, Mor", "CASSFORD"),
    ],
)
def test_search_by_name_and_hospital_number(
    qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int], text: str, family: str
) -> None:
    window = open_window()
    qtbot.keyClicks(window.search, text)
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    assert [n.split(",")[0] for n in shown_column(window, COL_NAME)] == [family]


@pytest.mark.hazard("H02")
def test_search_by_nhs_number_as_pasted(
    qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]
) -> None:
    window = open_window()
    nhs = referral_json(3)["patient"]["nhs_number"]
    window.search.setText(f"{nhs[:3]}-{nhs[3:6]}-{nhs[6:]}")
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    assert [n.split(",")[0] for n in shown_column(window, COL_NAME)] == ["CASSFORD"]


@pytest.mark.hazard("H04")
def test_the_queue_follows_the_side_panel_s_highlight_moved_by_the_arrow_keys(
    qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]
) -> None:
    window = open_window()
    sidebar = window.sidebar
    every, info = sidebar.item_for("all", None), sidebar.item_for("outcome", "needs_information")
    assert every is not None and info is not None
    sidebar.setFocus()
    sidebar.setCurrentItem(every)
    wait_idle(qtbot, window)
    assert window.model.rowCount() == 5
    # Down, Down...: the highlight moves to "Needs information" and the queue follows once the keys rest.
    while sidebar.currentItem() is not info:
        qtbot.keyClick(sidebar, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: window.outcome_filter.currentData() == "needs_information", timeout=5_000)
    wait_idle(qtbot, window)
    assert shown_column(window, COL_OUTCOME) == ["Needs information (awaiting consultant)"]
    assert window.count_label.text().startswith("1 ")
    # Up to "All referrals" again: every referral is shown again.
    while sidebar.currentItem() is not every:
        qtbot.keyClick(sidebar, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: window.outcome_filter.currentData() is None, timeout=5_000)
    wait_idle(qtbot, window)
    assert window.model.rowCount() == 5


def test_counts_per_outcome_in_the_side_panel(
    qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]
) -> None:
    window = open_window()
    item = window.sidebar.item_for("all", None)
    assert item is not None and item.text(1) == "5"
    info = window.sidebar.item_for("outcome", "needs_information")
    assert info is not None and info.text(1) == "1"
    flag = window.sidebar.item_for("flag", "dysphagia")
    assert flag is not None and flag.text(1) == "1"


def test_keyboard_next_previous_and_search(
    qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]
) -> None:
    window = open_window()
    window.table.setFocus()
    window.table.selectRow(0)
    with qtbot.waitSignal(window.detail_shown, timeout=5000):
        window.next_action.trigger()
    assert window.table.currentIndex().row() == 1
    assert window.detail.row.id == window.model.data(window.model.index(1, 0), ID_ROLE)
    window.previous_action.trigger()
    assert window.table.currentIndex().row() == 0
    assert window.next_action.shortcut().toString() == "Alt+Down"
    assert window.new_action.shortcut().toString() == "Ctrl+N"
    window.search_action.trigger()
    assert window.search.hasFocus() or window.focusWidget() is window.search


def test_column_widths_are_remembered(
    qtbot: Any, open_window: Callable[..., MainWindow], queue_of_five: list[int]
) -> None:
    window = open_window()
    window.table.setColumnWidth(COL_NAME, 333)
    window.close()
    again = open_window()
    assert again.table.columnWidth(COL_NAME) == 333


def test_empty_queue_offers_demo_data(
    qtbot: Any, open_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window()
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=5000)
    assert "empty" in window.banner_text.text()
    monkeypatch.setattr(Messages, "confirm", classmethod(lambda cls, parent, title, text: True))
    qtbot.mouseClick(window.demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() == 300, timeout=30_000)
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=5000)


def test_database_calls_on_the_gui_thread_fail_loudly(open_window: Callable[..., MainWindow], gui_db: Database) -> None:
    window = open_window()
    with pytest.raises(GuiThreadDatabaseCall), window.session.db.read():
        pass


def test_status_bar_shows_user_role_and_rules(open_window: Callable[..., MainWindow]) -> None:
    window = open_window("coord-test")
    assert window.user_label.text() == "Cora Ordinator (coordinator)"
    assert window.user_label.toolTip() == "Signed in: Cora Ordinator (coordinator)"
    assert window.rules_label.text() == "Rules spd-2026.2"
    assert window.rules_label.toolTip().startswith("Rules spd-2026.2 approved by Ada Admin on ")
