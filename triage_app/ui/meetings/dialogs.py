"""The meeting window's small dialogs: a new meeting's details, where to export, whether to drop typed text.

Each question is a class method so a test can answer it without a modal dialog.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TypedDict

from PySide6.QtCore import QDate, QTime
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QTableWidget,
    QTimeEdit,
    QWidget,
)

from triage_app.domain.meetings import MDT_ROLES
from triage_app.domain.referral import limit_of


class NewMeeting(TypedDict):
    """What `services.meetings.create_meeting` takes besides the database and the actor."""

    meeting_date: date
    meeting_time: str
    place: str
    video_link: str
    chair: str
    attendees: list[tuple[str, str | None]]


class NewMeetingDialog(QDialog):
    """Date, time, place or video link, chair and expected attendees with their MDT roles."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New MDT meeting")
        form = QFormLayout(self)
        self.date = QDateEdit(QDate.currentDate().addDays(7))
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("dd-MMM-yyyy")
        self.time = QTimeEdit(QTime(13, 30))
        self.time.setDisplayFormat("HH:mm")
        self.place = QLineEdit()
        self.place.setMaxLength(limit_of("meeting.place"))
        self.video = QLineEdit()
        self.video.setMaxLength(limit_of("meeting.video_link"))
        self.chair = QLineEdit()
        self.chair.setMaxLength(limit_of("meeting.chair"))
        self.attendees = QTableWidget(4, 2)
        self.attendees.setHorizontalHeaderLabels(["Name", "MDT role"])
        self.attendees.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row in range(self.attendees.rowCount()):
            combo = QComboBox()
            combo.addItem("—", None)
            for key, label in MDT_ROLES.items():
                combo.addItem(label, key)
            self.attendees.setCellWidget(row, 1, combo)
        for label, widget in (
            ("&Date", self.date),
            ("&Time", self.time),
            ("&Place", self.place),
            ("&Video link", self.video),
            ("&Chair", self.chair),
            ("&Attendees", self.attendees),
        ):
            form.addRow(label, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> NewMeeting:
        """What `create_meeting` needs."""
        attendees: list[tuple[str, str | None]] = []
        for row in range(self.attendees.rowCount()):
            item = self.attendees.item(row, 0)
            name = item.text().strip() if item is not None else ""
            combo = self.attendees.cellWidget(row, 1)
            if name:
                attendees.append((name, combo.currentData() if isinstance(combo, QComboBox) else None))
        day = self.date.date().toPython()
        assert isinstance(day, date)  # a QDateEdit's date is always a valid date
        return {
            "meeting_date": day,
            "meeting_time": self.time.time().toString("HH:mm"),
            "place": self.place.text(),
            "video_link": self.video.text(),
            "chair": self.chair.text(),
            "attendees": attendees,
        }

    @classmethod
    def ask(cls, parent: QWidget | None) -> NewMeeting | None:
        """The new meeting's details, or None if cancelled. (Tests replace this class method.)"""
        dialog = cls(parent)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None


class ExportChoice:
    """Where and how to export: the file dialog, replaceable in tests."""

    @classmethod
    def ask(cls, parent: QWidget | None, suggested: str, fmt: str) -> Path | None:
        """The file to write, or None."""
        name, _ = QFileDialog.getSaveFileName(parent, "Export agenda", suggested, f"{fmt.upper()} (*.{fmt})")
        return Path(name) if name else None


class FolderChoice:
    """Where to write letters: the folder dialog, replaceable in tests."""

    @classmethod
    def ask(cls, parent: QWidget | None) -> Path | None:
        """The folder, or None."""
        name = QFileDialog.getExistingDirectory(parent, "Write outcome letters to")
        return Path(name) if name else None


class DiscardQuestion:
    """ "Discard the outcome you have not recorded …?": Keep editing is the default and the Escape answer."""

    @classmethod
    def ask(cls, parent: QWidget | None, text: str) -> bool:
        """Whether to drop what the user typed and did not record. (Tests replace this class method.)"""
        box = QMessageBox(QMessageBox.Icon.Question, "Outcome not recorded", text, parent=parent)
        discard = box.addButton("&Discard", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("&Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.exec()
        return box.clickedButton() is discard
