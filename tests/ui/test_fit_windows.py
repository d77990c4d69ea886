"""Every window opens within the screen (1366x768 laptops, 1024x700 projectors): the main window, the referral
form (Save on screen) and the MDT meetings window (its content scrolls rather than overflowing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QScrollArea, QWidget

from tests.ui.test_form import new_form
from triage_app.ui.main_window import MainWindow
from triage_app.ui.screen_fit import apply_fit, available_area, fits

SCREENS = [QRect(0, 0, 1366, 768), QRect(0, 0, 1024, 700)]


def _on_screen(widget: QWidget, area: QRect) -> bool:
    """Whether the widget lies wholly inside its window and the window inside the area."""
    window = widget.window()
    inside = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    return QRect(0, 0, window.width(), window.height()).contains(inside) and area.contains(
        QRect(window.pos(), window.size())
    )


def test_windows_fit_the_test_screen_as_they_open(qtbot: Any, open_window: Callable[..., MainWindow]) -> None:
    window = open_window("admin-test")
    assert fits(window)
    form = new_form(qtbot, window)
    assert fits(form)
    meetings = window.open_meetings()
    qtbot.waitExposed(meetings)
    assert fits(meetings)
    assert available_area(meetings).contains(meetings.geometry())


@pytest.mark.parametrize("area", SCREENS, ids=lambda a: f"{a.width()}x{a.height()}")
def test_each_window_fits_a_small_screen(qtbot: Any, open_window: Callable[..., MainWindow], area: QRect) -> None:
    window = open_window("admin-test")
    apply_fit(window, area)
    assert fits(window, area)
    form = new_form(qtbot, window)
    form.resize(1400, 1000)  # as if restored from a larger screen
    apply_fit(form, area)
    assert fits(form, area)
    assert _on_screen(form.save_button, area) and _on_screen(form.cancel_button, area)
    meetings = window.open_meetings()
    qtbot.waitExposed(meetings)
    apply_fit(meetings, area)
    assert fits(meetings, area)
    if area.width() < 1200:  # the planning screen needs more width than this: it scrolls
        assert isinstance(meetings.centralWidget(), QScrollArea)
