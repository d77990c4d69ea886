"""The meeting and user dialogs take no more characters than the services store (domain LIMITS)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from triage_app.domain.referral import limit_of
from triage_app.ui.meetings import NewMeetingDialog


@pytest.mark.hazard("H17")
def test_typing_past_a_meeting_fields_limit_stops_at_the_limit(qtbot: QtBot) -> None:
    dialog = NewMeetingDialog()
    qtbot.addWidget(dialog)
    dialog.chair.setFocus()
    limit = limit_of("meeting.chair")
    QTest.keyClicks(dialog.chair, "C" * (limit + 25))
    assert len(dialog.chair.text()) == limit
    dialog.place.setText("P" * 10_000)  # a paste runs into the same limit
    assert len(dialog.place.text()) == limit_of("meeting.place")
    QTest.keyClick(dialog.chair, Qt.Key.Key_Backspace)
    assert len(dialog.chair.text()) == limit - 1
