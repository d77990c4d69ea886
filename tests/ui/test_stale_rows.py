"""A read that finds a row stale refreshes it: the desktop never shows a row that contradicts its panel (H04).

Another desktop changes a referral (here: the services on a second database handle, as another process would);
without a notification this window's row is still the old one. Clicking it reads the referral for the panel:
that read shows the row is stale, so the row is refreshed the way a broadcast refreshes it (repainted, or the view
reloaded when the referral left it, which clears the selection), and the side panel recounts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.ui.test_journeys import focus_queue, idle, nhs, select_patient, shown_nhs
from triage_app.services.referrals import get_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow
from triage_app.ui.queue_model import COL_NHS, COL_OUTCOME, COL_STATUS


def click_patient(qtbot: Any, window: MainWindow, serial: int) -> None:
    """Click the patient's row with the mouse, as the user does."""
    row = shown_nhs(window).index(nhs(serial))
    rect = window.table.visualRect(window.model.index(row, COL_NHS))
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def cell(window: MainWindow, serial: int, column: int) -> str:
    model = window.model
    return str(model.data(model.index(shown_nhs(window).index(nhs(serial)), column)))


def override_elsewhere(gui_db: Database, referral_id: int) -> None:
    """A consultant at another desk overrides the triage (no notification reaches this window)."""
    version = get_referral(gui_db, referral_id=referral_id).row.version
    decide_triage(
        gui_db,
        actor=sign_in(gui_db, login="cons-test"),
        referral_id=referral_id,
        expected_version=version,
        override_outcome="needs_information",
        reason="Ask for the swallow study",
    )


@pytest.mark.hazard("H04")
def test_clicking_a_row_changed_elsewhere_repaints_it_and_recounts(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_db: Database
) -> None:
    _first, second = seed(1, 2)
    window = open_window("coord-test")
    idle(qtbot, window)
    select_patient(qtbot, window, 1)  # the row clicked later is not the one selected at start
    before_outcome, before_status = cell(window, 2, COL_OUTCOME), cell(window, 2, COL_STATUS)
    override_elsewhere(gui_db, second)
    resets: list[int] = []
    window.model.modelReset.connect(lambda: resets.append(1))
    with qtbot.waitSignal(window.sidebar.counted, timeout=10_000):  # the side panel recounts
        click_patient(qtbot, window, 2)
        qtbot.waitUntil(lambda: window.detail is not None and window.detail.row.id == second, timeout=5000)
    idle(qtbot, window)
    assert window.detail is not None and window.detail.row.version == 2
    assert "version 2" in window.panel.patient.text()
    # the row now says what the panel says, repainted in place (the view keeps it: no reset)
    assert (cell(window, 2, COL_OUTCOME), cell(window, 2, COL_STATUS)) != (before_outcome, before_status)
    assert window.model.cached_row(second).version == 2
    assert window.model.cached_row(second).status == window.detail.row.status
    assert not resets
    assert window.selection.referral_id == second


@pytest.mark.hazard("H04")
def test_clicking_a_row_that_left_the_view_elsewhere_reloads_the_view_and_clears_the_panel(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_db: Database
) -> None:
    _first, second = seed(1, 2)
    window = open_window("coord-test")
    window.sidebar.view_chosen.emit("status", "received")
    idle(qtbot, window)
    assert sorted(shown_nhs(window)) == sorted([nhs(1), nhs(2)])
    select_patient(qtbot, window, 1)
    override_elsewhere(gui_db, second)  # it moves out of "Received"
    click_patient(qtbot, window, 2)
    qtbot.waitUntil(lambda: shown_nhs(window) == [nhs(1)], timeout=10_000)
    idle(qtbot, window)
    # the row left the view: nothing is selected, the panel is cleared and nothing on it can act
    assert window.selection.referral_id is None and window.detail is None
    assert not window.panel.status_button.isEnabled() and not window.panel.edit_button.isEnabled()


@pytest.mark.hazard("H04")
def test_opening_the_form_of_a_row_changed_elsewhere_refreshes_the_row(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_db: Database
) -> None:
    first, _second = seed(1, 2)
    window = open_window("coord-test")
    idle(qtbot, window)
    select_patient(qtbot, window, 1)  # the panel read it before the change: only the form's read sees it
    override_elsewhere(gui_db, first)
    focus_queue(qtbot, window)
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.form_for(first) is not None, timeout=5000)
    qtbot.waitUntil(lambda: window.model.cached_row(first) is not None, timeout=5000)
    qtbot.waitUntil(lambda: window.model.cached_row(first).version == 2, timeout=5000)
    idle(qtbot, window)
    assert window.detail is not None and window.detail.row.version == 2  # the panel caught up too
