"""Colour schemes and the app icon."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from triage_app.ui.theme import apply_theme, dark_palette


def test_dark_palette_has_light_text_on_dark_base() -> None:
    palette = dark_palette()
    assert palette.color(QPalette.ColorRole.Base).lightness() < 60
    assert palette.color(QPalette.ColorRole.Text).lightness() > 200


def test_theme_and_icon_apply(qapp: QApplication, qtbot: Any) -> None:
    apply_theme(qapp)
    assert qapp.style().name().lower() == "fusion"
    icon = qapp.windowIcon()
    assert not icon.isNull()
    assert not icon.pixmap(256, 256).isNull()  # SVG: sharp at any size


@pytest.mark.hazard("H11")
def test_unexpected_errors_are_logged_without_their_message(caplog: Any, shown_errors: list[tuple[str, str]]) -> None:
    import logging

    from triage_app.ui.app import _report_unexpected

    typed = "Quill" + "feather"  # as if a user had typed it: code lines in a traceback never hold patient data
    try:
        raise ValueError(f"{typed} 999 000 0018")
    except ValueError as error:
        with caplog.at_level(logging.ERROR, logger="triage_app"):
            _report_unexpected(ValueError, error, error.__traceback__)
    assert "unexpected ValueError" in caplog.text and "Quillfeather" not in caplog.text
    assert shown_errors and "ValueError" in shown_errors[-1][1] and "Quillfeather" not in shown_errors[-1][1]


def test_startup_errors_reach_a_desktop_user(qapp: QApplication, monkeypatch: Any) -> None:
    from PySide6.QtWidgets import QMessageBox

    from triage_app.ui.app import show_startup_error

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda parent, title, text: shown.append(text)))
    show_startup_error("the data folder X cannot be written")
    assert shown == ["the data folder X cannot be written"]
