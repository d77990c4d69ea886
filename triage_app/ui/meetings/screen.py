"""What the meeting window's screens share: the context, the meeting shown, two signals to the window, and
the one way a failed op is said to the user."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from triage_app.ui.dialogs import Messages

if TYPE_CHECKING:
    from triage_app.services.meetings import MeetingDetail
    from triage_app.ui.context import AppContext

log = logging.getLogger(__name__)


def failure_report(
    parent: QWidget, title: str, then: Callable[[], None] | None = None
) -> Callable[[BaseException], None]:
    """An op's failure callback: logged (the error's kind only: no patient data), said in a dialog, then `then`."""

    def failed(error: BaseException) -> None:
        log.error("%s: %s", title, type(error).__name__)
        Messages.error(parent, title, str(error))
        if then is not None:
            then()

    return failed


class MeetingScreen(QWidget):
    """A part of the meeting window, given the context and told which meeting it shows."""

    #: A message for the window's status bar, and how long it stays (ms; 0 until the next one).
    message = Signal(str, int)
    #: Something failed: the window reads the meeting again, to show what is stored now.
    refresh_wanted = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.detail: MeetingDetail | None = None

    def failure(self, title: str) -> Callable[[BaseException], None]:
        """The failure callback of this screen's ops: said to the user, then the meeting read again."""
        return failure_report(self, title, self.refresh_wanted.emit)
