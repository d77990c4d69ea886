"""The meeting window's small dialogs: a new meeting's details, where to export, whether to drop typed text.

Each question is a class method so a test can answer it without a modal dialog.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TypedDict

from PySide6.QtCore import QDate, QModelIndex, Qt, QTime
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
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


def role_combo(role: str | None = None) -> QComboBox:
    """An MDT role chooser in words ("—" for none chosen), set to `role`."""
    combo = QComboBox()
    combo.addItem("—", None)
    for key, label in MDT_ROLES.items():
        combo.addItem(label, key)
    combo.setCurrentIndex(max(0, combo.findData(role)))
    return combo


class NewMeetingDialog(QDialog):
    """Date, time, place or video link, chair and expected attendees with their MDT roles.

    Given `initial` (a meeting's details as they stand), it edits them: the same fields, filled in.
    """

    def __init__(self, parent: QWidget | None = None, initial: NewMeeting | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New MDT meeting" if initial is None else "Edit MDT meeting")
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
        people = [] if initial is None else list(initial["attendees"])
        self.attendees = QTableWidget(max(4, len(people) + 2), 2)  # room for two more
        self.attendees.setAccessibleName("Expected attendees: name and MDT role")
        self.attendees.setHorizontalHeaderLabels(["Name", "MDT role"])
        self.attendees.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row in range(self.attendees.rowCount()):
            name, role = people[row] if row < len(people) else ("", None)
            if name:
                self.attendees.setItem(row, 0, QTableWidgetItem(name))
            self.attendees.setCellWidget(row, 1, role_combo(role))
        if initial is not None:
            day = initial["meeting_date"]
            self.date.setDate(QDate(day.year, day.month, day.day))
            self.time.setTime(QTime.fromString(initial["meeting_time"], "HH:mm"))
            self.place.setText(initial["place"])
            self.video.setText(initial["video_link"])
            self.chair.setText(initial["chair"])
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

    def accept(self) -> None:
        """A name still being typed in the table is kept: OK (or Enter in a field) commits the open cell first."""
        self.attendees.setCurrentIndex(QModelIndex())
        super().accept()

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


class EditMeetingDialog(NewMeetingDialog):
    """A meeting's details to edit until it is held: the new meeting's fields, filled in with the meeting's."""

    @classmethod
    def ask_edit(cls, parent: QWidget | None, initial: NewMeeting) -> NewMeeting | None:
        """The edited details, or None if cancelled."""
        dialog = cls(parent, initial)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None


class AttendanceDialog(QDialog):
    """Who is at the meeting: each expected attendee ticked present (or not) in the MDT role they take today, and
    rows below for anyone who came without being expected."""

    def __init__(self, parent: QWidget | None, people: list[tuple[str, str | None, bool]]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Attendance")
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Tick those present (Space ticks the row's box) and set the role each takes today; add anyone who "
                "came unexpected in the empty rows. Quorum counts those present."
            )
        )
        self._expected = len(people)  # rows below these are for people who came unexpected
        self.table = QTableWidget(len(people) + 3, 3)
        self.table.setAccessibleName("Attendance: present, name, MDT role")
        self.table.setHorizontalHeaderLabels(["Present", "Name", "MDT role"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for row in range(self.table.rowCount()):
            name, role, there = people[row] if row < len(people) else ("", None, False)
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            tick.setCheckState(Qt.CheckState.Checked if there else Qt.CheckState.Unchecked)
            self.table.setItem(row, 0, tick)
            self.table.setItem(row, 1, QTableWidgetItem(name))
            self.table.setCellWidget(row, 2, role_combo(role))
        self.table.setCurrentCell(0, 0)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Record attendance")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def accept(self) -> None:
        """A name still being typed is kept: Record attendance commits the open cell first."""
        self.table.setCurrentIndex(QModelIndex())
        super().accept()

    def present(self) -> list[tuple[str, str | None]]:
        """(name, MDT role) of each row ticked present, or named in an added row (typing a name there is enough)."""
        there: list[tuple[str, str | None]] = []
        for row in range(self.table.rowCount()):
            tick, name_item = self.table.item(row, 0), self.table.item(row, 1)
            name = name_item.text().strip() if name_item is not None else ""
            combo = self.table.cellWidget(row, 2)
            ticked = tick is not None and tick.checkState() == Qt.CheckState.Checked
            if name and (ticked or row >= self._expected):  # a name added on the day is someone here
                there.append((name, combo.currentData() if isinstance(combo, QComboBox) else None))
        return there

    @classmethod
    def ask(
        cls, parent: QWidget | None, people: list[tuple[str, str | None, bool]]
    ) -> list[tuple[str, str | None]] | None:
        """Those present, or None if cancelled. (Tests may replace this class method.)"""
        dialog = cls(parent, people)
        return dialog.present() if dialog.exec() == QDialog.DialogCode.Accepted else None


class Confirmation:
    """A yes/no question with the safe answer (No) as the default: closing a meeting, adding over capacity."""

    @classmethod
    def ask(cls, parent: QWidget | None, title: str, text: str, yes: str) -> bool:
        """Whether the user chose `yes`. (Tests may replace this class method.)"""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
        accept = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        back = box.addButton("&Go back", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(back)
        box.setEscapeButton(back)
        box.exec()
        return box.clickedButton() is accept


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
