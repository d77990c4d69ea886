"""Every window opens within the screen (1366x768 laptops, 1024x700 projectors): sized to the screen's available
area, placed on it, and its content scrolls rather than pushing Save or Export off the screen.

    fit_to_screen(window, 1250, 820)   # in the window's __init__: preferred size, never larger than the screen

The size is set at once; when the window is first shown (its content built by then), a main window whose
content needs more room than the screen has gets its central widget inside a scroll area, and the window is
kept on the screen.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QScrollArea, QWidget

#: Room left for the window manager's title bar and borders (the frame is not ours to measure before showing).
FRAME_ALLOWANCE = QSize(16, 40)


def available_area(window: QWidget) -> QRect:
    """The screen area a window may use (without task bars), of its parent's screen if it has one."""
    parent = window.parentWidget()
    screen = (parent.screen() if parent is not None else None) or window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 768)


def fitted_size(preferred: QSize, available: QRect) -> QSize:
    """`preferred`, no larger than the available area less the frame."""
    return QSize(
        max(200, min(preferred.width(), available.width() - FRAME_ALLOWANCE.width())),
        max(150, min(preferred.height(), available.height() - FRAME_ALLOWANCE.height())),
    )


def fits(window: QWidget, available: QRect | None = None) -> bool:
    """Whether the window, and its smallest size, lie within the available screen area (tests, and the show)."""
    area = available or available_area(window)
    limit = fitted_size(QSize(area.width(), area.height()), area)
    geometry = window.geometry()
    smallest = window.minimumSizeHint().expandedTo(window.minimumSize())
    return (
        geometry.width() <= limit.width()
        and geometry.height() <= limit.height()
        and smallest.width() <= limit.width()
        and smallest.height() <= limit.height()
    )


def scroll_central_widget(window: QMainWindow) -> QScrollArea | None:
    """Put the main window's central widget inside a scroll area (once); None if there is nothing to wrap."""
    central = window.centralWidget()
    if central is None or (isinstance(central, QScrollArea) and central.property("screenFit")):
        return None
    window.takeCentralWidget()
    scroll = QScrollArea()
    scroll.setProperty("screenFit", True)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setWidget(central)
    window.setCentralWidget(scroll)
    return scroll


def apply_fit(window: QWidget, available: QRect | None = None) -> None:
    """Keep the window within the available area: no larger than it (a size restored from another screen
    included), content that needs more room scrolls (main windows), and the window placed on the screen."""
    area = available or available_area(window)
    limit = fitted_size(QSize(area.width(), area.height()), area)
    if isinstance(window, QMainWindow) and window.centralWidget() is not None:
        needed = window.minimumSizeHint()
        if needed.width() > limit.width() or needed.height() > limit.height():
            scroll_central_widget(window)
    window.setMinimumSize(window.minimumSize().boundedTo(limit))
    size = window.size().boundedTo(limit)
    window.resize(size)
    if window.isWindow():
        frame = QRect(window.geometry().topLeft(), size)
        if not area.contains(frame):
            frame.moveCenter(area.center())
            frame.moveTop(max(area.top(), frame.top()))
            window.move(frame.topLeft())


class _FitOnShow(QObject):
    """Fits the window again when it is first shown: its content is built by then."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Show and isinstance(watched, QWidget):
            watched.removeEventFilter(self)
            if not watched.windowState() & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen):
                apply_fit(watched)
        return False


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Open `window` at width x height, or smaller to fit the screen; its content scrolls if it needs more room."""
    window.resize(fitted_size(QSize(width, height), available_area(window)))
    window.installEventFilter(_FitOnShow(window))
