"""Changes flow one way: an op's `Changes` is broadcast and each view refreshes only its own part.

A save of a referral is one round-trip to the database (the save hands back the referral's fresh detail) and one
targeted refresh of the queue's named rows; the side panel recounts in a job of its own (the counts are the side
panel's view and read every referral, the rows only the named ones). An existing referral's row is repainted in
place: the model is never reset for an edit that keeps the view's membership and order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.stored import stored_rows, stored_value
from triage_app.config import AppPaths
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.referral import format_nhs_number
from triage_app.ui import dialogs
from triage_app.ui.main_window import MainWindow
from triage_app.ui.queue_model import COL_OUTCOME

NEW_HOSPITAL_NUMBER = "K0077123"


class Jobs:
    """Counts what a window hands its database worker, and its queue model's resets."""

    def __init__(self, window: MainWindow) -> None:
        self.submitted = 0
        self.resets = 0
        worker = window.worker
        submit = worker.submit

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.submitted += 1
            return submit(*args, **kwargs)

        worker.submit = counting  # type: ignore[method-assign]
        window.model.modelReset.connect(self._reset)

    def _reset(self) -> None:
        self.resets += 1

    def clear(self) -> None:
        self.submitted = self.resets = 0


def settle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)


def edit_hospital_number(qtbot: Any, window: MainWindow, referral_id: int) -> Any:
    """Enter on the selected row opens its form; the hospital number is retyped from the keyboard."""
    qtbot.waitUntil(lambda: window.detail is not None and window.detail.row.id == referral_id, timeout=10_000)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.form_for(referral_id) is not None, timeout=10_000)
    form = window.form_for(referral_id)
    assert form is not None
    qtbot.waitExposed(form)
    field = form.fields["patient.hospital_number"].widget
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, NEW_HOSPITAL_NUMBER)
    qtbot.keyClick(field, Qt.Key.Key_Tab)
    assert form.dirty
    return form


@pytest.mark.hazard("H04")
def test_a_save_is_one_round_trip_and_one_targeted_refresh_without_a_reset(
    qtbot: Any, open_window: Callable[..., MainWindow], seed: Callable[..., list[int]], gui_paths: AppPaths
) -> None:
    first, _second = seed(1, 2)
    window = open_window("coord-test")
    settle(qtbot, window)
    row = window.model.row_of(first)
    assert row is not None
    window.queue.select_row(row)
    form = edit_hospital_number(qtbot, window, first)
    settle(qtbot, window)
    jobs = Jobs(window)

    with qtbot.waitSignal(window.changes_applied, timeout=10_000) as broadcast:
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)

    assert broadcast.args[0].referral_ids == {first} and not broadcast.args[0].created
    # The save with its fresh detail, the queue's named rows, the side panel's counts: nothing else.
    assert jobs.submitted == 3
    assert jobs.resets == 0  # the row was repainted in place
    assert window.model.queue_row(window.model.row_of(first)).hospital_number == NEW_HOSPITAL_NUMBER
    assert window.detail.referral.patient.hospital_number == NEW_HOSPITAL_NUMBER  # the panel shows the new values
    assert "version 2" in window.panel.patient.text()
    stored = stored_rows(gui_paths.data_dir, "SELECT hospital_number, version FROM referral WHERE id = ?", first)
    assert stored == [(NEW_HOSPITAL_NUMBER, 2)]


@pytest.mark.hazard("H01", "H04")
def test_a_coordinator_edits_and_a_consultant_confirms_from_the_panel(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_paths: AppPaths,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    others = seed(3, 4)
    chosen = seed(5)[0]
    coordinator = open_window("coord-test")
    settle(qtbot, coordinator)
    coordinator.queue.select_row(coordinator.model.row_of(chosen))
    form = edit_hospital_number(qtbot, coordinator, chosen)
    with qtbot.waitSignal(coordinator.changes_applied, timeout=10_000):
        qtbot.keyClick(form, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, coordinator)
    assert form.status.text() == "Saved"

    consultant = open_window("cons-test")
    settle(qtbot, consultant)
    row = consultant.model.row_of(chosen)
    assert row is not None
    consultant.queue.select_row(row)
    qtbot.waitUntil(lambda: consultant.detail is not None and consultant.detail.row.id == chosen, timeout=10_000)
    assert consultant.detail.referral.patient.hospital_number == NEW_HOSPITAL_NUMBER  # the coordinator's edit
    asked: list[str] = []
    monkeypatch.setattr(
        dialogs.Messages, "confirm", classmethod(lambda cls, parent, title, text: asked.append(text) or True)
    )
    jobs = Jobs(consultant)
    before = consultant.model.data(consultant.model.index(row, COL_OUTCOME))
    with qtbot.waitSignal(consultant.changes_applied, timeout=10_000):
        qtbot.mouseClick(consultant.panel.confirm_button, Qt.MouseButton.LeftButton)
    settle(qtbot, consultant)

    assert format_nhs_number(make_test_nhs_number(5)) in asked[0]  # the patient was named before it acted
    assert jobs.resets == 0 and jobs.submitted == 3  # the decision with its detail, the row, the counts
    after = consultant.model.data(consultant.model.index(consultant.model.row_of(chosen), COL_OUTCOME))
    assert after != before and "awaiting consultant" not in after
    assert consultant.detail.row.decision_kind == "confirmed"
    decided = dict(stored_rows(gui_paths.data_dir, "SELECT id, decision_kind FROM referral"))
    statuses = dict(stored_rows(gui_paths.data_dir, "SELECT status, COUNT(*) FROM referral GROUP BY status"))
    hospital = stored_value(gui_paths.data_dir, "SELECT hospital_number FROM referral WHERE id = ?", chosen)
    assert decided[chosen] == "confirmed" and all(decided[other] is None for other in others)  # the right patient
    assert hospital == NEW_HOSPITAL_NUMBER
    sidebar = consultant.sidebar
    assert sidebar.item_for("all", None).text(1) == "3"
    for status, count in statuses.items():
        assert sidebar.item_for("status", status).text(1) == str(count)
