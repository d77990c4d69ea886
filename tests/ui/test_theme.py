"""Colour schemes and the app icon."""

from __future__ import annotations

from typing import Any

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
