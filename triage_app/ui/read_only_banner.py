"""The red banner across the window: a database open for reading only, or a database file missing or emptied.

Two lines, what is wrong and what to do; what SQLite found is on its tooltip, for IT, so the banner stays short
on a small screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

if TYPE_CHECKING:
    from triage_app.services.app import AppSession

#: What a control that would write says while the database is open for reading only.
READ_ONLY_OFF = "Not while the database is open for reading only (see the red banner)"
#: The status line's refusal: short enough to read beside the permanent labels; the banner says why.
READ_ONLY_SHORT = "Read only: see the red banner"


#: Said (on the banner's tooltip, and in the message box and status line) when the check that runs after the window
#: opens finds the database damaged (ui.page_check).
LATE_NOTE = (
    "Found by the check that runs after the window opens. Nothing was lost by it: this window wrote nothing to the "
    "damaged file, and an open form keeps what you typed (it cannot be saved now)."
)


class ReadOnlyBanner(QLabel):
    """Hidden until the database can only be read, or is missing: then the first thing anyone sees."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("readOnlyBanner")
        self.setAccessibleName("The database is open for reading only")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet(
            "QLabel#readOnlyBanner { background: #b00020; color: white; padding: 8px 12px; font-weight: bold; }"
        )
        self.hide()

    def show_session(self, session: AppSession, *, restorer: bool) -> str | None:
        """Say why `session` can only be read and what to do; returns the short reason for the controls it turns
        off (None, and hidden, when the database can be written)."""
        from triage_app.storage.preflight import ReadOnlyKind

        if session.read_only is None:
            self.hide()
            return None
        kind = session.read_only_kind
        if kind is ReadOnlyKind.DAMAGED:
            backup = session.newest_backup
            if backup is not None:
                todo = (
                    f"The newest verified backup is {backup.name}. An administrator restores it with "
                    f"File > Restore a backup… or the command: triage-app restore {backup.name}"
                    + ("" if restorer else " (you are not an administrator: ask one)")
                )
            else:
                todo = "No verified backup was found: do not delete the database file, ask the unit's IT contact."
            headline = "The database is damaged. It is open for reading only: nothing can be changed or saved."

        elif kind is ReadOnlyKind.DISK_FULL:
            headline = "The disk is full. The database is open for reading only: nothing can be changed or saved."
            todo = "Free space on the disk, then restart the app."
        else:
            headline = "The database cannot be written. It is open for reading only: nothing can be changed or saved."
            todo = "Ask the unit's IT contact to make the database file and its folder writable, then restart the app."
        self.setText(f"{headline}\n{todo}")
        late = session.page_check is not None and session.page_check.damaged
        self.setToolTip((LATE_NOTE + "\n" if late else "") + f"Details: {session.read_only}")
        self.show()
        self._fit()
        return "The database is open for reading only: " + (
            "it is damaged"
            if kind is ReadOnlyKind.DAMAGED
            else "the disk is full"
            if kind is ReadOnlyKind.DISK_FULL
            else "it cannot be written"
        )

    def show_lost(self, error: BaseException, offer: Any = None) -> None:
        """A missing or emptied database file; once the backups are read, the newest verified one (`offer`)."""
        from triage_app.storage.engine import EmptyDatabaseFile

        what = "is empty (0 bytes)" if isinstance(error, EmptyDatabaseFile) else "is missing"
        headline = f"The database file {what}. Nothing was created in its place: nothing can be shown or saved."
        if offer is None:
            self.setText(f"{headline}\nDetails: {error}")
        else:
            if offer.backup is None:
                todo = "No verified backup was found: ask the unit's IT contact where the database file went."
            else:
                todo = (
                    f"The newest verified backup is {offer.backup.name}. An administrator restores it with "
                    f"File > Restore a backup… or the command: triage-app restore {offer.backup.name}"
                    + ("" if offer.may_restore else f" ({offer.why_not}: ask an administrator)")
                )
            self.setText(f"{headline}\n{todo}\nDetails: {error}")
        self.show()
        self._fit()

    def _fit(self) -> None:
        """Lay the window out now, so the wrapped text has its full height at once (not after the next event)."""
        holder = self.parentWidget()
        layout = holder.layout() if holder is not None else None
        if layout is not None:
            layout.activate()
