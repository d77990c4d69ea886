"""The triage panel for the selected referral: outcome headline, criteria with reasons, cautions, priority
terms, missing fields (each a link to the form), the consultant's decision, the status workflow and history.

Weeks waiting and the `rtt_breach_risk` caution are today's (H07, H16): the panel reads the 18-week clock it is
given (`clock`, the window's today and rules) each time it shows a referral, rather than the flags stored when
the referral was scored. Without a clock it says plainly that the caution is as scored, and on which day.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.formats import format_date, format_name
from triage_app.domain.intended_use import INTENDED_USE_LINE
from triage_app.domain.meetings import TRIAGE_CHANGED, triage_text
from triage_app.domain.referral import field_label, format_nhs_number
from triage_app.domain.scoring import CRITERIA, FLAGS, OUTCOME_LABELS, RttClock, outcome_words
from triage_app.domain.workflow import (
    CLOSED,
    DISCUSSED,
    LISTED,
    MOVE_BY_DECISION,
    MOVE_BY_MEETING,
    STATUS_LABELS,
    TRANSITIONS,
    TRIAGEABLE,
    move_rule,
)
from triage_app.services.permissions import CONFIRM_TRIAGE, EDIT_REFERRAL, actor_may, status_move_action, who_may
from triage_app.ui.theme import scaled, scheme_colour

STATUS_BADGES = {"met": "✔ met", "not_met": "✘ not met", "unknown": "? unknown"}
STATUS_COLOURS = {"met": "#1b5e20", "not_met": "#c62828", "unknown": "#8a5300"}  # light; theme.SCHEME_COLOURS
NOT_CONSULTANT = who_may(CONFIRM_TRIAGE)


def _when(value: Any) -> str:
    local = value.astimezone()
    return f"{format_date(local.date())} {local:%H:%M}"


class TriagePanel(QScrollArea):
    """Read-only summary plus the consultant's actions; emits requests, the window carries them out."""

    confirm_requested = Signal()
    override_requested = Signal()
    status_requested = Signal(str)
    missing_field_clicked = Signal(str)
    edit_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, clock: Callable[[], RttClock] | None = None) -> None:
        super().__init__(parent)
        self._clock = clock
        self._version_in_force: str | None = None
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # it wraps, never scrolls sideways
        self.setMinimumWidth(340)
        self.setAccessibleName("Triage panel")
        body = QWidget()
        self.setWidget(body)
        layout = QVBoxLayout(body)
        self.headline = QLabel("Select a referral to see its triage")
        self.headline.setWordWrap(True)
        self.headline.setAccessibleName("Triage outcome")
        self.headline.setFont(scaled(self.headline.font(), 1.35, bold=True))
        self.patient = QLabel()
        self.patient.setWordWrap(True)
        self.patient.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # "Changed by NAME at HH:MM on another desktop": what the panel shows is someone else's version (H04, H16).
        self.changed_elsewhere = QLabel()
        self.changed_elsewhere.setWordWrap(True)
        self.changed_elsewhere.setAccessibleName("Changed on another desktop")
        self.changed_elsewhere.setStyleSheet(f"color: {scheme_colour('info')}; font-weight: bold;")
        self.changed_elsewhere.hide()
        #: The last change another desktop made to a referral (ui.live_updates.LiveUpdates.edit_of), if wired.
        self._remote_edit: Callable[[int | None], Any] | None = None
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.priority = QLabel()
        self.priority.setWordWrap(True)
        self.criteria = QLabel()
        self.criteria.setWordWrap(True)
        self.criteria.setTextFormat(Qt.TextFormat.RichText)
        self.cautions = QLabel()
        self.cautions.setWordWrap(True)
        self.missing = QLabel()
        self.missing.setWordWrap(True)
        self.missing.setTextFormat(Qt.TextFormat.RichText)
        self.missing.setAccessibleName("Missing information")
        self.missing.linkActivated.connect(lambda link: self.missing_field_clicked.emit(link.removeprefix("field:")))
        self.decision = QLabel()
        self.decision.setWordWrap(True)
        self.decision.setAccessibleName("Consultant decision")
        self.intended_use = QLabel(INTENDED_USE_LINE)
        self.intended_use.setWordWrap(True)
        self.intended_use.setAccessibleName("Intended use")
        small = scaled(self.intended_use.font(), 0.9, italic=True)
        self.intended_use.setFont(small)
        self.rules_in_force = QLabel()  # which approved rules the results come from, and who approved them
        self.rules_in_force.setWordWrap(True)
        self.rules_in_force.setAccessibleName("Rules in force")
        self.rules_in_force.setFont(small)
        self.rules_in_force.hide()

        buttons = QHBoxLayout()
        self.confirm_button = QPushButton("&Confirm triage")
        self.confirm_button.setAccessibleName("Confirm triage outcome")
        self.confirm_button.clicked.connect(self.confirm_requested)
        self.override_button = QPushButton("&Override…")
        self.override_button.setAccessibleName("Override triage outcome with a reason")
        self.override_button.clicked.connect(self.override_requested)
        self.edit_button = QPushButton("&Edit referral")
        self.edit_button.clicked.connect(self.edit_requested)
        for button in (self.confirm_button, self.override_button, self.edit_button):
            buttons.addWidget(button)

        status_row = QHBoxLayout()
        self.status_label = QLabel()
        self.status_combo = QComboBox()
        self.status_combo.setAccessibleName("Move to status")
        # Shrinks with the panel (the popup still shows whole words): a long status never makes it scroll sideways.
        self.status_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.status_combo.setMinimumContentsLength(12)
        self.status_button = QPushButton("&Move")
        self.status_button.setAccessibleName("Move referral to the chosen status")
        self.status_button.clicked.connect(self._move)
        self.status_label.setWordWrap(True)
        status_row.addWidget(self.status_combo, 1)
        status_row.addWidget(self.status_button)

        self.history = QLabel()
        self.history.setWordWrap(True)
        self.history.setAccessibleName("History")

        for widget in (
            self.headline,
            self.patient,
            self.changed_elsewhere,
            self.intended_use,
            self.rules_in_force,
            self.summary,
        ):
            layout.addWidget(widget)
        layout.addWidget(self._heading("Consultant decision"))
        layout.addWidget(self.decision)
        layout.addLayout(buttons)  # near the top: the consultant's actions need no scrolling
        for title, widget in (
            ("Priority", self.priority),
            ("Criteria", self.criteria),
            ("Cautions", self.cautions),
            ("Missing", self.missing),
        ):
            layout.addWidget(self._heading(title))
            layout.addWidget(widget)
        layout.addWidget(self._heading("Workflow"))
        layout.addWidget(self.status_label)  # a line of its own: the choice and Move fit beside each other
        layout.addLayout(status_row)
        layout.addWidget(self._heading("History"))
        layout.addWidget(self.history)
        layout.addStretch(1)
        self.detail: Any = None
        self.actor: Any = None
        self.show_detail(None, None)

    def set_rules_line(self, line: str, version: str | None = None) -> None:
        """Name the rules in force (`version`) and their approver (`Rules spd-2026.2 approved by … on …`)."""
        self._version_in_force = version
        self.rules_in_force.setText(line)
        self.rules_in_force.setVisible(bool(line))

    def set_remote_edits(self, edit_of: Callable[[int | None], Any] | None) -> None:
        """Read other desktops' changes from `edit_of(referral_id)` (a `RemoteEdit` or None) from now on."""
        self._remote_edit = edit_of
        if self.detail is not None:
            self._show_changed_elsewhere(self.detail)

    def _show_changed_elsewhere(self, detail: Any) -> None:
        """Say who changed the referral on another desktop when the version shown is the one their change made.

        Versions, not names: the same person may use two desktops, and a later change made here hides the line.
        """
        from triage_app.ui.live_updates import changed_by_text

        edit = None
        if detail is not None and self._remote_edit is not None:
            edit = self._remote_edit(detail.row.id)
        shown = edit is not None and edit.version == detail.row.version
        self.changed_elsewhere.setText(changed_by_text(edit, on_another_desktop=True) if shown else "")
        self.changed_elsewhere.setVisible(shown)

    def set_clock(self, clock: Callable[[], RttClock] | None) -> None:
        """Read the 18-week clock from `clock` (today's date and the rules' warning week) from now on."""
        self._clock = clock
        if self.detail is not None:
            self.show_detail(self.detail, self.actor)

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        label.setFrameShape(QFrame.Shape.NoFrame)
        return label

    def _move(self) -> None:
        index = self.status_combo.currentIndex()
        item = self.status_combo.model().item(index) if index >= 0 else None  # type: ignore[attr-defined]
        status = self.status_combo.currentData()
        if status and item is not None and item.isEnabled():  # a disabled move is never asked for
            self.status_requested.emit(status)

    def show_detail(self, detail: Any, actor: Any) -> None:
        """Show a `ReferralDetail` (None clears the panel) for the signed-in `actor`."""
        self.detail, self.actor = detail, actor
        has = detail is not None
        self._show_changed_elsewhere(detail)
        for widget in (
            self.confirm_button,
            self.override_button,
            self.edit_button,
            self.status_combo,
            self.status_button,
        ):
            widget.setEnabled(has)
        if not has:
            self.headline.setText("Select a referral to see its triage")
            for label in (
                self.patient,
                self.summary,
                self.priority,
                self.criteria,
                self.cautions,
                self.missing,
                self.decision,
                self.status_label,
                self.history,
            ):
                label.setText("")
            self.status_combo.clear()
            return
        row, referral, stored = detail.row, detail.referral, detail.assessment
        # The standing decision where there is one, else the computed outcome marked as awaiting a consultant.
        shown = triage_text(row.outcome, row.decided_outcome, row.decision_kind)
        lapsed = row.status in (LISTED, DISCUSSED) and row.decided_outcome is None
        self.headline.setText(f"Triage: {shown}" + (f" · {TRIAGE_CHANGED.upper()}" if lapsed else ""))
        patient = referral.patient
        clock = self._clock() if self._clock is not None else None
        waiting = ""
        if clock is not None and referral.received_on is not None:
            described = clock.describe(referral.received_on)
            waiting = f"\n{described[:1].upper()}{described[1:]} (today, {format_date(clock.as_of)})"
        self.patient.setText(
            f"{format_name(patient.family_name, patient.given_name) or 'Name not recorded'}  ·  "
            f"NHS {format_nhs_number(patient.nhs_number) or 'not recorded'}  ·  born {format_date(patient.date_of_birth) or '?'}"
            f"\nReceived {format_date(referral.received_on) or '?'}  ·  version {row.version}{waiting}"
        )
        if stored is None:
            for label in (self.summary, self.priority, self.criteria, self.cautions, self.missing):
                label.setText("")
        else:
            a = stored.row
            self.summary.setText(a.summary)
            self.priority.setText(
                f"Priority {a.priority} = {a.priority_severity} severity + {a.priority_pain} pain + "
                f"{a.priority_waiting} waiting, assessed {format_date(a.assessed_on)} with rules {a.rules_version}"
                + ("" if row.priority == a.priority else f"\nIn the queue today: {row.priority} (waiting term grows)")
                + self._older_rules_note(a.rules_version, row.status)
            )
            self.criteria.setText(self._criteria_html(stored.criteria))
            # Today's rtt_breach_risk, not the one stored when the referral was scored.
            flags = stored.flags if clock is None else clock.flags(stored.flags, referral.received_on)
            cautions = "\n".join(f"• {FLAGS[f][0]}: {FLAGS[f][1]}" if f in FLAGS else f"• {f}" for f in flags)
            cautions = cautions or "None"
            if clock is None:  # not wired to today's clock: say what the RTT caution is
                cautions += f"\n(RTT risk as scored on {format_date(a.assessed_on)}, not read for today)"
            self.cautions.setText(cautions)
            if stored.missing and not actor_may(actor, EDIT_REFERRAL):  # no form to open: the fields, named
                self.missing.setText(escape(", ".join(field_label(path) for path in stored.missing)))
            elif stored.missing:
                links = ", ".join(
                    f'<a href="field:{escape(path)}">{escape(field_label(path))}</a>' for path in stored.missing
                )
                self.missing.setText(f"{links}<br><small>Click a field to open the form there.</small>")
            else:
                self.missing.setText("(none)")
        self._show_decision(detail)
        self._show_workflow(detail, actor)
        self._show_history(detail)

    @staticmethod
    def _criteria_html(criteria: Any) -> str:
        lines = []
        for criterion in criteria:
            title, nice = CRITERIA.get(criterion.criterion_id, (criterion.criterion_id, ""))
            colour = scheme_colour(criterion.status if criterion.status in STATUS_COLOURS else "neutral")
            badge = STATUS_BADGES.get(criterion.status, criterion.status)
            lines.append(
                f"<p style='margin:2px 0'><b>{criterion.criterion_id}</b> "
                f"<span style='color:{colour}'><b>{badge}</b></span> {escape(title)}<br>"
                f"{escape(criterion.reason)} <small>({escape(nice)})</small></p>"
            )
        return "".join(lines)

    def _older_rules_note(self, assessed_with: str, status: str) -> str:
        """Why an assessment by other rules than those in force stands: the two versions side by side need a word."""
        if self._version_in_force is None or assessed_with == self._version_in_force:
            return ""
        if status in (LISTED, DISCUSSED, CLOSED):
            return (
                f"\nKept as assessed: the referral had reached an MDT (or was closed) before rules "
                f"{self._version_in_force} were approved, so they did not reassess it."
            )
        # Reassessment runs in the background (its progress in the status bar); this panel reads the referral
        # again when its batch is saved, so there is nothing for the user to press.
        return (
            f"\nNot yet reassessed with the rules in force ({self._version_in_force}): the background reassessment "
            "rescores it (progress in the status bar; after a Cancel, at the next start)."
        )

    def _show_decision(self, detail: Any) -> None:
        row = detail.row
        standing = next((d for d in detail.decisions if d.id == row.decision_id), None)
        if standing is None:
            lapsed = detail.decisions[-1] if detail.decisions and detail.decisions[-1].decision == "lapsed" else None
            text = "Awaiting a consultant: no decision stands."
            if lapsed is not None:
                text += f"\nThe last one lapsed: {lapsed.reason}."
            self.decision.setText(text)
            return
        who = detail.user_names.get(standing.decided_by, f"user {standing.decided_by}")
        verb = "Confirmed" if standing.decision == "confirmed" else "Overridden"
        text = (
            f"{verb} as {OUTCOME_LABELS.get(standing.outcome, standing.outcome)} by {who}, {_when(standing.decided_at)}"
        )
        if standing.decision == "overridden":
            text += f" (the rules found {outcome_words(row.decision_basis)})"
        if standing.reason:
            text += f"\nReason: {standing.reason}"
        self.decision.setText(text)

    def _show_workflow(self, detail: Any, actor: Any) -> None:
        current = detail.row.status
        self.status_label.setText(f"Status: {STATUS_LABELS.get(current, current)}")
        self.status_combo.clear()
        consultant = actor_may(actor, CONFIRM_TRIAGE)
        elsewhere = []  # moves the panel does not make: said once, not offered
        first_allowed = -1
        for target in sorted(TRANSITIONS.get(current, ()), key=list(STATUS_LABELS).index):
            rule = move_rule(current, target)
            if rule == MOVE_BY_MEETING:
                elsewhere.append("Listing for an MDT and taking a case off one: the MDT meetings window (Ctrl+M)")
                continue
            if rule == MOVE_BY_DECISION:
                elsewhere.append("Triage outcomes: a consultant confirms or overrides the triage")
                continue
            self.status_combo.addItem(STATUS_LABELS[target], target)
            move = status_move_action(current, target)
            if move is not None and not actor_may(actor, move):
                item = self.status_combo.model().item(self.status_combo.count() - 1)  # type: ignore[attr-defined]
                item.setEnabled(False)
                item.setToolTip(who_may(move))
            elif first_allowed < 0:
                first_allowed = self.status_combo.count() - 1
        # A disabled move is never the one shown: Move would only be refused.
        self.status_combo.setCurrentIndex(first_allowed)
        self.status_combo.setEnabled(self.status_combo.count() > 0)
        self.status_button.setEnabled(first_allowed >= 0)
        self.status_button.setToolTip("" if first_allowed >= 0 else "No move you may make from this status")
        self.status_combo.setToolTip("\n".join(dict.fromkeys(elsewhere)))
        may_edit = actor_may(actor, EDIT_REFERRAL)
        self.edit_button.setEnabled(may_edit)
        self.edit_button.setToolTip("Open the referral's form (Enter)" if may_edit else who_may(EDIT_REFERRAL))
        row = detail.row
        triageable = current in TRIAGEABLE or (current in (LISTED, DISCUSSED) and row.decided_outcome is None)
        standing = row.decided_outcome == row.outcome and row.decision_basis == row.outcome
        for button in (self.confirm_button, self.override_button):
            enabled = consultant and triageable and detail.assessment is not None
            if button is self.confirm_button and standing:
                enabled = False  # confirming again would record nothing new
            button.setEnabled(enabled)
            if not consultant:
                button.setToolTip(NOT_CONSULTANT)
            elif not triageable:
                button.setToolTip("The MDT has this referral now: its triage can no longer change")
            elif button is self.confirm_button and standing:
                button.setToolTip("Already confirmed: this decision stands")
            else:
                button.setToolTip("")

    def _show_history(self, detail: Any) -> None:
        events = []
        for change in detail.history:
            who = detail.user_names.get(change.changed_by, "?")
            source = STATUS_LABELS.get(change.from_status, "new") if change.from_status else "new"
            note = f" ({change.note})" if change.note else ""
            events.append(
                (
                    change.changed_at,
                    f"{_when(change.changed_at)}  {source} → {STATUS_LABELS.get(change.to_status)}  by {who}{note}",
                )
            )
        for decision in detail.decisions:
            if decision.decision == "lapsed":
                continue  # its status change carries the note: "triage changed since confirmation: ..."
            who = detail.user_names.get(decision.decided_by, "?")
            text = (
                f"{_when(decision.decided_at)}  triage {decision.decision}: "
                f"{OUTCOME_LABELS.get(decision.outcome, decision.outcome)} by {who}"
            )
            events.append((decision.decided_at, text))
        self.history.setText("\n".join(text for _, text in sorted(events, key=lambda e: e[0])))
