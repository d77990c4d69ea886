"""Light and dark colour schemes that follow the system, and the app icon (SVG, sharp at any DPI)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

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


#: The status colours the app paints, (light scheme, dark scheme): each reads at 4.5:1 or better (WCAG AA) on the
#: background it is painted on in its scheme (tests/ui/test_contrast.py checks every pair in PAINTED).
SCHEME_COLOURS: dict[str, tuple[str, str]] = {
    "met": ("#1b5e20", "#81c784"),  # a criterion met
    "not_met": ("#c62828", "#ef9a9a"),  # a criterion not met; a field's error
    "unknown": ("#8a5300", "#ffcc80"),  # a criterion that cannot be assessed; a caution
    "neutral": ("#555555", "#bbbbbb"),  # any other status
    "info": ("#1565c0", "#90caf9"),  # changed elsewhere
    "alert": ("#b00020", "#ff8a80"),  # a problem to act on (not quorate, an action without an owner)
    "breach_bg": ("#f8d7da", "#5c1f1a"),  # a queue row at or past 18 weeks (behind the palette's text)
    "warning_bg": ("#fff3cd", "#4d3b00"),  # a queue row in the 18-week warning weeks
    "notice_bg": ("#fff3cd", "#4d3b00"),  # the "changed elsewhere" bar of a form
    "notice_text": ("#5c3c00", "#ffe8a3"),
}

#: (foreground, background) of everything painted in a scheme colour: a SCHEME_COLOURS name, or "text",
#: "window", "base", "alternate" for the scheme's palette (labels sit on the window, table cells on the base).
PAINTED: tuple[tuple[str, str], ...] = (
    *((status, "window") for status in ("met", "not_met", "unknown", "neutral", "info", "alert")),
    *((status, "base") for status in ("met", "not_met", "unknown", "neutral", "info", "alert")),
    ("text", "breach_bg"),
    ("text", "warning_bg"),
    ("notice_text", "notice_bg"),
    ("text", "window"),
    ("text", "base"),
    ("text", "alternate"),
)

#: Pairs painted in fixed colours whatever the scheme (their own background): the read-only banner, the meeting
#: screen's decided and triage-changed notes, an overdue action's date.
FIXED_PAIRS: tuple[tuple[str, str], ...] = (
    ("#ffffff", "#b00020"),
    ("#1b5e20", "#e8f5e9"),
    ("#5c3c00", "#fff3cd"),
    ("#58151c", "#f8d7da"),
)


def scheme_palette(dark: bool) -> QPalette:
    """The palette of the light or the dark scheme (as apply_theme sets it)."""
    if dark:
        return dark_palette()
    fusion = QStyleFactory.create("Fusion")
    return fusion.standardPalette() if fusion is not None else QPalette()


def current_is_dark() -> bool:
    """Whether the running app shows the dark scheme (False before there is an application)."""
    app = QApplication.instance()
    return isinstance(app, QApplication) and is_dark(app)


def scheme_colour(name: str, dark: bool | None = None) -> str:
    """A status colour (SCHEME_COLOURS) for the light or dark scheme; the running app's scheme by default."""
    light, darker = SCHEME_COLOURS[name]
    return darker if (current_is_dark() if dark is None else dark) else light


def painted_colour(name: str, dark: bool) -> QColor:
    """A colour of PAINTED: a scheme colour's name, or the palette's text, window, base or alternate."""
    roles = {
        "text": QPalette.ColorRole.Text,
        "window": QPalette.ColorRole.Window,
        "base": QPalette.ColorRole.Base,
        "alternate": QPalette.ColorRole.AlternateBase,
    }
    if name in roles:
        return scheme_palette(dark).color(QPalette.ColorGroup.Active, roles[name])
    return QColor(scheme_colour(name, dark))


def contrast_ratio(first: QColor, second: QColor) -> float:
    """The WCAG 2 contrast ratio of two opaque colours (1 to 21)."""

    def luminance(colour: QColor) -> float:
        channels = [
            value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
            for value in (colour.redF(), colour.greenF(), colour.blueF())
        ]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


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
