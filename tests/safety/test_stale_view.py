"""H04, a stale view: the panel and its actions belong to the selected row of the view on screen. A search typed
but not yet applied (the queue waits a moment after each key before it filters) may be about to take that row out
of the view, so an action pressed in that moment does nothing, and the search is applied at once.

Driven through the real main window with key presses and clicks; the database is read back by NHS number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.services.referrals import get_referral
from triage_app.storage.engine import Database
from triage_app.ui import dialogs
from triage_app.ui.main_window import MainWindow
from triage_app.ui.queue_model import COL_NHS


def shown_nhs(window: MainWindow) -> list[str]:
    model = window.model
    return [model.data(model.index(row, COL_NHS)).replace(" ", "") for row in range(model.rowCount())]


@pytest.mark.hazard("H04")
def test_an_action_pressed_while_a_typed_search_waits_acts_on_no_one(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ashdale, bramwick = seed((1, {"patient__family_name": "Ashdale"}), (2, {"patient__family_name": "Bramwick"}))
    asked: list[str] = []
    monkeypatch.setattr(
        dialogs.Messages, "confirm", classmethod(lambda cls, parent, title, text: asked.append(text) or True)
    )
    window = open_window("cons-test")
    row = shown_nhs(window).index(make_test_nhs_number(1))
    rect = window.table.visualRect(window.model.index(row, COL_NHS))
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.detail is not None and window.detail.row.id == ashdale, timeout=5000)
    assert window.panel.confirm_button.isEnabled()
    # The search waits for typing to pause; on a slow machine the pause could pass before the click below, so the
    # wait is made long here: what is under test is what an action does while a search is still waiting.
    window._search_timer.setInterval(60_000)
    qtbot.mouseClick(window.search, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(window.search, "Bramwick")
    assert window._search_timer.isActive()
    qtbot.mouseClick(window.panel.confirm_button, Qt.MouseButton.LeftButton)  # Ashdale is still on the panel
    qtbot.waitUntil(lambda: window.worker.pending == 0 and window.model.all_ids_known, timeout=10_000)
    assert asked == []  # nothing was offered for confirmation
    assert shown_nhs(window) == [make_test_nhs_number(2)]  # the search was applied at once: Ashdale left the view
    assert window.detail is None and not window.panel.confirm_button.isEnabled()
    for referral_id in (ashdale, bramwick):
        assert get_referral(gui_db, referral_id=referral_id).row.decided_outcome is None
