"""Input widgets of the referral form. Each reads and writes the JSON interchange value of one field and can
report a problem it finds itself (a date it cannot read) before the rules' own validation runs.

`field_for(spec)` picks the widget for an entry of the table of fields (domain.fields) by its kind, with the
entry's limits, range, choices and placeholder: a field added to the table gets its widget from here.

Why one module (about 400 lines): one widget per kind of field, and `field_for` choosing among them, read best
side by side."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.fields import Choice, FieldSpec
from triage_app.domain.formats import format_date, format_month, parse_user_date, parse_user_month_or_date
from triage_app.domain.nhs_number import normalise_nhs_number
from triage_app.domain.referral import format_nhs_number, limit_of, text_problem

NOT_RECORDED = "— not recorded —"


class FormField:
    """A field of the form: its widget, its JSON value, and a problem it found itself."""

    changed: Callable[[], None] | None = None

    def __init__(self, path: str, widget: QWidget) -> None:
        self.path = path
        self.widget = widget
        widget.setAccessibleName(path)

    def value(self) -> Any:
        """The JSON value (None when not recorded)."""
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show a JSON value."""
        raise NotImplementedError

    def local_problem(self) -> str | None:
        """A problem this widget can name before the rules validate (an unreadable date)."""
        return None

    def focus_widget(self) -> QWidget:
        """Where the cursor goes when the field is opened from a link."""
        return self.widget

    def _notify(self, *_args: Any) -> None:
        if self.changed is not None:
            self.changed()


class TextField(FormField):
    def __init__(self, path: str, *, placeholder: str = "", max_length: int | None = None) -> None:
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        # The field's limit from the one table (domain.fields): what the form takes, the import takes.
        self.edit.setMaxLength(limit_of(path) if max_length is None else max_length)
        super().__init__(path, self.edit)
        self.edit.textChanged.connect(self._notify)

    def value(self) -> Any:
        return self.edit.text().strip() or None

    def set_value(self, value: Any) -> None:
        self.edit.setText("" if value is None else str(value))


class NhsNumberField(TextField):
    """Accepts pasted numbers with spaces or hyphens; shows them 3-3-4 once typed."""

    def __init__(self, path: str) -> None:
        super().__init__(path, placeholder="999 000 0000")
        self.edit.editingFinished.connect(self._tidy)

    def _tidy(self) -> None:
        digits = normalise_nhs_number(self.edit.text())
        if len(digits) == 10 and digits.isdigit():
            self.edit.setText(format_nhs_number(digits))

    def value(self) -> Any:
        text = self.edit.text().strip()
        return normalise_nhs_number(text) if text else None

    def set_value(self, value: Any) -> None:
        self.edit.setText(format_nhs_number(value) if value else "")


class DateField(TextField):
    """Dates typed the usual ways (03-Dec-2026, 03/12/2026, 2026-12-03); shown DD-MMM-YYYY."""

    def __init__(self, path: str, *, month_allowed: bool = False) -> None:
        hint = "Dec-2019 or 03-Dec-2019" if month_allowed else "DD-MMM-YYYY"
        super().__init__(path, placeholder=hint, max_length=30)
        self.month_allowed = month_allowed
        self.edit.editingFinished.connect(self._tidy)

    def _parse(self) -> tuple[date, bool] | None:
        text = self.edit.text().strip()
        if not text:
            return None
        if self.month_allowed:
            return parse_user_month_or_date(text)
        return parse_user_date(text), False

    def _tidy(self) -> None:
        try:
            parsed = self._parse()
        except ValueError:
            return
        if parsed is not None:
            day, month_only = parsed
            self.edit.setText(format_month(day) if month_only else format_date(day))

    def value(self) -> Any:
        try:
            parsed = self._parse()
        except ValueError:
            return None
        if parsed is None:
            return None
        day, month_only = parsed
        return day.strftime("%Y-%m") if month_only else day.isoformat()

    def set_value(self, value: Any) -> None:
        if not value:
            self.edit.setText("")
        elif len(value) == 7:
            self.edit.setText(format_month(date.fromisoformat(value + "-01")))
        else:
            self.edit.setText(format_date(date.fromisoformat(value)))

    def local_problem(self) -> str | None:
        try:
            self._parse()
        except ValueError as exc:
            return str(exc)
        return None


class WholeNumberField(TextField):
    """A whole number; its range is the field's own (from the table of fields), shown as the placeholder."""

    def __init__(self, path: str, number_range: tuple[int, int]) -> None:
        low, high = number_range
        super().__init__(path, placeholder=f"{low}-{high}", max_length=6)
        self.edit.setMaximumWidth(90)

    def value(self) -> Any:
        text = self.edit.text().strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            return None

    def local_problem(self) -> str | None:
        text = self.edit.text().strip()
        if text and not text.lstrip("-").isdigit():
            return f"'{text}' is not a whole number"
        return None


class ChoiceField(FormField):
    """An enumerated value; the first entry is "not recorded"."""

    def __init__(self, path: str, choices: tuple[Choice, ...]) -> None:
        self.combo = QComboBox()
        self.combo.addItem(NOT_RECORDED, None)
        for choice in choices:
            self.combo.addItem(choice.label, choice.value)
        super().__init__(path, self.combo)
        self.combo.currentIndexChanged.connect(self._notify)

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        self.combo.setCurrentIndex(max(index, 0))


class YesNoField(ChoiceField):
    """True / False / not recorded."""

    def __init__(self, path: str) -> None:
        super().__init__(path, ())
        self.combo.addItem("Yes", True)
        self.combo.addItem("No", False)

    def set_value(self, value: Any) -> None:
        self.combo.setCurrentIndex({None: 0, True: 1, False: 2}.get(value, 0))


class LongTextField(FormField):
    def __init__(self, path: str) -> None:
        self.text = QPlainTextEdit()
        self.text.setTabChangesFocus(True)
        self.text.setMaximumHeight(80)
        super().__init__(path, self.text)
        self.text.textChanged.connect(self._notify)

    def value(self) -> Any:
        return self.text.toPlainText().strip() or None

    def set_value(self, value: Any) -> None:
        self.text.setPlainText(value or "")

    def local_problem(self) -> str | None:
        # A text box has no maximum length: say, naming the limit, when the text is over it (or not valid text).
        value = self.value()
        return None if value is None else text_problem(value, self.path)


class ComponentsField(FormField):
    """Col-Cap forms as check boxes. None ticked reads as "not recorded" unless the list was empty before."""

    def __init__(self, path: str, components: tuple[str, ...]) -> None:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[str, QCheckBox] = {}
        for index, component in enumerate(components):  # shown as written in the referral ("torticollis")
            check = QCheckBox(component.replace("_", " "))
            check.setAccessibleName(f"Col-Cap component {component.replace('_', ' ')}")
            check.toggled.connect(self._notify)
            grid.addWidget(check, index // 2, index % 2)
            self.boxes[component] = check
        self._was_empty = False
        self._loaded: tuple[str, ...] = ()
        super().__init__(path, box)

    def value(self) -> Any:
        # The referral's components are kept in the order they were given (the referrer's primary one first): those
        # loaded stay in their order, newly ticked ones follow in the boxes' order. So a form saved untouched reads
        # back exactly as stored, and records no edit.
        ticked = [c for c in self._loaded if c in self.boxes and self.boxes[c].isChecked()]
        ticked += [c for c, check in self.boxes.items() if check.isChecked() and c not in ticked]
        if not ticked and not self._was_empty:
            return None
        return ticked

    def set_value(self, value: Any) -> None:
        self._was_empty = value == []
        self._loaded = tuple(value or ())
        for component, check in self.boxes.items():
            check.setChecked(component in (value or ()))

    def focus_widget(self) -> QWidget:
        return next(iter(self.boxes.values()))


class MedicationsField(FormField):
    """Oral medications as an editable list of (drug, outcome) rows: the list's sub-table in the table of fields
    names the two columns (a text and a choice) and the outcomes.

    Three states, because "none tried" is a finding and "not recorded" is missing information: rows listed;
    "None tried" ticked (an empty list); or neither, an untouched list, which is *not recorded* (None).
    """

    def __init__(self, spec: FieldSpec) -> None:
        path = spec.path
        self.text_key, self.choice_key = (item.key for item in spec.items)
        self.outcomes = spec.items[1].choices
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        self.none_tried = QCheckBox("None tried (the referral says no oral anti-spasm medication was tried)")
        self.none_tried.setToolTip("Leave unticked with no rows when the referral does not say: that is 'not recorded'")
        self.state = QLabel()
        self.state.setAccessibleName("Oral medication history")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels([item.label for item in spec.items])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Oral medications")
        # Four rows on screen without scrolling (the form's layout would squeeze it to one and a half at 1366x768).
        rows = 4 * self.table.verticalHeader().defaultSectionSize()
        height = self.table.horizontalHeader().sizeHint().height() + rows + 2 * self.table.frameWidth()
        self.table.setMinimumHeight(height)
        self.table.setMaximumHeight(height)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table, as in every other field of the form
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add medication")
        self.remove_button = QPushButton("Remove selected")
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout.addWidget(self.state)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.none_tried)
        super().__init__(path, box)
        self.none_tried.toggled.connect(self._toggle_none)
        self.add_button.clicked.connect(self._add_by_user)
        self.remove_button.clicked.connect(self._remove_selected)
        self.table.itemChanged.connect(self._notify)
        self._show_state()

    def _toggle_none(self, none: bool) -> None:
        for widget in (self.table, self.add_button, self.remove_button):
            widget.setEnabled(not none)
        self._notify()

    def _notify(self, *_args: Any) -> None:
        self._show_state()
        super()._notify()

    def _show_state(self) -> None:
        value = self.value()
        if value is None:
            self.state.setText("Not recorded: add each drug tried, or tick 'None tried'")
        elif not value:
            self.state.setText("None tried")
        else:
            self.state.setText(f"{len(value)} listed")

    def add_row(self, drug: str | None, outcome: str | None) -> None:
        """Append a medication row."""
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(drug or ""))
        combo = QComboBox()
        combo.addItem(NOT_RECORDED, None)
        for choice in self.outcomes:
            combo.addItem(choice.label, choice.value)
        combo.setCurrentIndex(max(combo.findData(outcome), 0))
        combo.setAccessibleName(f"Outcome of medication {row + 1}")
        combo.currentIndexChanged.connect(self._notify)
        self.table.setCellWidget(row, 1, combo)
        self._notify()

    def _add_by_user(self) -> None:
        """Add a row and put the cursor in its drug cell, so the user types the drug at once."""
        self.add_row(None, None)
        row = self.table.rowCount() - 1
        self.table.setCurrentCell(row, 0)
        self.table.setFocus()
        item = self.table.item(row, 0)
        if item is not None:
            self.table.editItem(item)

    def _remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        if not rows:  # never guess which drug: removing one the user did not choose loses information
            return
        for row in rows:
            self.table.removeRow(row)
        self._notify()

    def value(self) -> Any:
        if self.none_tried.isChecked():
            return []
        result = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            combo = self.table.cellWidget(row, 1)
            drug = item.text().strip() if item is not None else ""
            outcome = combo.currentData() if isinstance(combo, QComboBox) else None
            if drug or outcome:
                result.append({self.text_key: drug or None, self.choice_key: outcome})
        return result or None  # an untouched (or emptied) list is not recorded, never "none tried"

    def set_value(self, value: Any) -> None:
        self.table.setRowCount(0)
        self.none_tried.setChecked(value == [])
        for medication in value or ():
            self.add_row(medication.get(self.text_key), medication.get(self.choice_key))
        self._show_state()

    def focus_widget(self) -> QWidget:
        return self.add_button if not self.none_tried.isChecked() else self.none_tried


def set_value_quietly(field: FormField, value: Any) -> None:
    """Set a field without announcing a change (loading a referral is not an edit)."""
    callback, field.changed = field.changed, None
    try:
        field.set_value(value)
    finally:
        field.changed = callback


def field_for(spec: FieldSpec) -> FormField:
    """The widget for an entry of the table of fields, by its kind."""
    kind = spec.kind
    if kind == "nhs_number":
        return NhsNumberField(spec.path)
    if kind in ("date", "month_or_date"):
        return DateField(spec.path, month_allowed=kind == "month_or_date")
    if kind == "choice":
        return ChoiceField(spec.path, spec.choices)
    if kind == "flag":
        return YesNoField(spec.path)
    if kind == "whole":
        assert spec.number_range is not None, spec.path  # every number has a range (domain.fields)
        return WholeNumberField(spec.path, spec.number_range)
    if kind == "components":
        return ComponentsField(spec.path, spec.values)
    if kind == "list":
        return MedicationsField(spec)
    if spec.multiline:
        return LongTextField(spec.path)
    return TextField(spec.path, placeholder=spec.placeholder)
