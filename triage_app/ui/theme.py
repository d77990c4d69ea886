"""Light and dark colour schemes that follow the system, and the app icon (SVG, sharp at any DPI)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from triage_app.config import resource_path

APP_ICON = ("icons", "triage-app.svg")


def scaled(font: QFont, factor: float, *, bold: bool = False, italic: bool = False) -> QFont:
    """`font` enlarged (or made smaller) by `factor`, point or pixel sized: headlines, the shared display."""
    larger = QFont(font)
    if larger.pointSizeF() > 0:
        larger.setPointSizeF(larger.pointSizeF() * factor)
    elif larger.pixelSize() > 0:
        larger.setPixelSize(round(larger.pixelSize() * factor))
    larger.setBold(bold)
    larger.setItalic(italic)
    return larger


def dark_palette() -> QPalette:
    """A calm dark palette with enough contrast for long sessions."""
    palette = QPalette()
    base, window, text = QColor(30, 32, 36), QColor(42, 45, 50), QColor(232, 232, 232)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        palette.setColor(group, QPalette.ColorRole.Window, window)
        palette.setColor(group, QPalette.ColorRole.WindowText, text)
        palette.setColor(group, QPalette.ColorRole.Base, base)
        palette.setColor(group, QPalette.ColorRole.AlternateBase, QColor(38, 41, 46))
        palette.setColor(group, QPalette.ColorRole.Text, text)
        palette.setColor(group, QPalette.ColorRole.Button, window)
        palette.setColor(group, QPalette.ColorRole.ButtonText, text)
        palette.setColor(group, QPalette.ColorRole.ToolTipBase, QColor(55, 58, 64))
        palette.setColor(group, QPalette.ColorRole.ToolTipText, text)
        palette.setColor(group, QPalette.ColorRole.Highlight, QColor(61, 126, 178))
        palette.setColor(group, QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
        palette.setColor(group, QPalette.ColorRole.Link, QColor(120, 180, 240))
        palette.setColor(group, QPalette.ColorRole.PlaceholderText, QColor(150, 150, 150))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    return palette


def is_dark(app: QApplication) -> bool:
    """Whether the system asks for a dark scheme."""
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication) -> None:
    """Fusion style with the system's light or dark scheme, re-applied when the system switches."""
    app.setStyle("Fusion")

    def apply() -> None:
        app.setPalette(dark_palette() if is_dark(app) else app.style().standardPalette())

    apply()
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply())
    app.setWindowIcon(QIcon(str(resource_path(*APP_ICON))))
