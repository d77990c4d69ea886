"""H14, the app used as if it decides: the intended-use statement is what the safety case says it is, and the
real About box and the first start show it in full (the panel, agendas and letters carry its one-line form:
tests/ui/test_triage.py and tests/exporters/test_safety_exports.py).

The message boxes are the real ones: a timer reads the modal box Qt shows and closes it, as a user would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QMessageBox

from triage_app.config import AppPaths
from triage_app.domain.intended_use import INTENDED_USE, INTENDED_USE_LINE
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]
SAFETY_SPEC = REPO.parent / "shared" / "spec" / "safety.md"  # beside the repository when it is checked out there
APP_NAME = "SPD Referral Triage"


def words(text: str) -> str:
    """Text with its line breaks and runs of spaces made single spaces."""
    return " ".join(text.split())


def plain(rich: str) -> str:
    """What rich text reads as on screen."""
    document = QTextDocument()
    document.setHtml(rich)
    return document.toPlainText()


def documented_statement() -> str:
    """The statement quoted in docs/safety/intended-use.md (its first block quote)."""
    text = (REPO / "docs" / "safety" / "intended-use.md").read_text(encoding="utf-8")
    quote = re.search(r"((?:^>.*\n)+)", text, re.MULTILINE)
    assert quote is not None, "intended-use.md quotes no statement"
    return words(" ".join(line.lstrip(">").strip() for line in quote.group(1).splitlines()))


@pytest.mark.hazard("H14")
def test_the_statement_the_app_shows_is_the_one_in_the_safety_case() -> None:
    documented = documented_statement()
    assert documented.startswith("The app records referrals for selective peripheral denervation")
    # the app names itself where the statement says "the app"; every other word is the same
    assert words(INTENDED_USE) == documented.replace("The app", APP_NAME, 1)
    for limit in ("does not diagnose", "decide that a patient is refractory or suitable", "recommend treatment"):
        assert limit in INTENDED_USE
    assert "the quorate MDT decides" in INTENDED_USE_LINE and "Decision support only" in INTENDED_USE_LINE
    if SAFETY_SPEC.is_file():  # the specification itself, where it is beside the repository
        spec = words(SAFETY_SPEC.read_text(encoding="utf-8"))
        assert documented in spec


@pytest.fixture
def modal_boxes(qapp: QApplication) -> Iterator[list[tuple[str, str]]]:
    """Every modal message box shown while the test runs: its title and its text read as plain text. Each is
    closed once read, as a user would close it."""
    seen: list[tuple[str, str]] = []
    timer = QTimer()
    timer.setInterval(20)

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append((box.windowTitle(), words(plain(box.text()))))
            box.done(0)

    timer.timeout.connect(read_and_close)
    timer.start()
    yield seen
    timer.stop()


@pytest.mark.hazard("H14")
def test_the_about_box_says_what_the_app_does_and_does_not_do(
    qtbot: Any, open_window: Callable[..., MainWindow], modal_boxes: list[tuple[str, str]]
) -> None:
    window = open_window("cons-test")
    window.about_action.trigger()  # returns when the box has been read and closed
    (about,) = [box for box in modal_boxes if box[0].startswith("About")]
    assert words(INTENDED_USE) in about[1]
    assert "does not diagnose, decide that a patient is refractory or suitable, or recommend treatment" in about[1]


def open_fresh(qtbot: Any, gui_paths: AppPaths, settings_file: str) -> MainWindow:
    """The main window as a desktop starts it (not a smoke start), with the settings file given."""
    settings = QSettings(str(gui_paths.data_dir / settings_file), QSettings.Format.IniFormat)
    window = MainWindow(gui_paths, settings=settings, login="coord-test")
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.session_ready, timeout=20_000):
        window.open_session()
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)
    return window


@pytest.mark.hazard("H14")
def test_the_first_start_on_a_desktop_shows_the_statement_once(
    qtbot: Any, gui_paths: AppPaths, gui_db: Database, modal_boxes: list[tuple[str, str]]
) -> None:
    first = open_fresh(qtbot, gui_paths, "desktop.ini")
    qtbot.waitUntil(lambda: bool(modal_boxes), timeout=10_000)
    assert modal_boxes == [("What this app does, and does not do", words(INTENDED_USE))]
    first.shutdown()
    # the same desktop again: said once is enough, it stays in the About box
    again = open_fresh(qtbot, gui_paths, "desktop.ini")
    qtbot.wait(100)
    assert len(modal_boxes) == 1
    again.shutdown()
    # another desktop (its own settings) is told on its own first start
    other = open_fresh(qtbot, gui_paths, "other-desktop.ini")
    qtbot.waitUntil(lambda: len(modal_boxes) == 2, timeout=10_000)
    assert modal_boxes[1][1] == words(INTENDED_USE)
    other.shutdown()
