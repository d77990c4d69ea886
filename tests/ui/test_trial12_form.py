"""Issue-12 trial finding: a form saved untouched records nothing, whatever order the referral gave its Col-Cap
components in (before, the form wrote them back in its boxes' order: a new version and an audit event, and every
other desktop told the referral had changed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.stored import stored_rows
from triage_app.config import AppPaths
from triage_app.domain.fields import field_spec
from triage_app.services.referrals import get_referral
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow


@pytest.mark.hazard("H04")
def test_a_form_saved_untouched_records_no_edit_whatever_the_components_order(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    gui_paths: AppPaths,
) -> None:
    spec = field_spec("phenotype.components")
    assert spec is not None
    boxes_order = [choice.value for choice in spec.choices]
    given = [boxes_order[3], boxes_order[0]]  # the referrer's order, not the boxes'
    (referral_id,) = seed((1, {"phenotype__components": given}))
    window = open_window("coord-test")
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: window.detail is not None, timeout=5000)
    window.open_selected()
    qtbot.waitUntil(lambda: window.form_for(referral_id) is not None, timeout=5000)
    form = window.form_for(referral_id)
    assert form is not None
    assert list(form.fields["phenotype.components"].boxes) == boxes_order  # type: ignore[attr-defined]
    events_before = stored_rows(gui_paths.data_dir, "SELECT count(*) FROM audit_event")[0][0]

    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: form.status.text() == "Saved", timeout=10_000)

    stored = get_referral(gui_db, referral_id=referral_id)
    assert stored.row.version == 1, "an untouched form made a new version"
    assert list(stored.referral.phenotype.components or ()) == given
    assert stored_rows(gui_paths.data_dir, "SELECT count(*) FROM audit_event")[0][0] == events_before
    # A component ticked now follows those given, which keep their order.
    form.fields["phenotype.components"].boxes[boxes_order[1]].setChecked(True)  # type: ignore[attr-defined]
    assert form.fields["phenotype.components"].value() == [*given, boxes_order[1]]
