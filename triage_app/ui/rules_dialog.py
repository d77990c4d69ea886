"""Rules in force: what they are, what a rules file would change, and (administrators) approving one.

Anyone with an active role may look; only an administrator's Approve is enabled, and the service checks again.
Given the `AppContext`, not the main window: every database call is an op or a query on its worker; the dialog
never reads a file or the database on the GUI thread. An approval is broadcast as a rules `Changes`, from which
every view reads again. What is approved is exactly the text that was previewed (held in memory, not read again).
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.formats import format_date
from triage_app.domain.rules import ApprovedRules
from triage_app.domain.workflow import ADMIN
from triage_app.ui.dialogs import Messages

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.rules import RulesApproval
    from triage_app.ui.context import AppContext

NOT_ADMIN = "Only an administrator can approve rules"
NOTICE_NAME = "rules_notice"


def _when(moment: Any) -> str:
    utc = moment.astimezone(UTC)
    return f"{format_date(utc.date())} {utc:%H:%M} UTC"


def in_force_text(approval: ApprovedRules) -> str:
    """`spd-2026.2, approved by Ada Admin (admin-test) on 21-Nov-2026 15:57 UTC · SHA-256 0123456789ab`."""
    return (
        f"{approval.version}, approved by {approval.approved_by} ({approval.approved_by_login}) on "
        f"{_when(approval.approved_at)} · SHA-256 {approval.sha_prefix}"
    )


class RulesDialog(QDialog):
    """The rules in force, a file's changes criterion by criterion, and Approve for administrators."""

    approved = Signal(object)  # the RulesApproval, after the commit
    in_force_read = Signal(object)  # the ApprovedRules in force, read again

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.preview: Any = None  # the RulesPreview shown, if any
        self.setWindowTitle("Rules in force")
        self.resize(760, 560)
        session = self._session()
        self.is_admin = session.actor.has(ADMIN)

        force_box = QGroupBox("In force on every desktop")
        force_layout = QVBoxLayout(force_box)
        self.in_force_label = QLabel()
        self.in_force_label.setWordWrap(True)
        self.in_force_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.in_force_label.setAccessibleName("Rules in force")
        force_layout.addWidget(self.in_force_label)

        self.proposal_label = QLabel()
        self.proposal_label.setWordWrap(True)
        self.proposal_label.setAccessibleName("Rules shipped with this version of the app")
        self.proposal_button = QPushButton("Review the &shipped rules")
        self.proposal_button.clicked.connect(self.review_proposal)
        self.choose_button = QPushButton("&Choose file…")
        self.choose_button.setToolTip("Compare a rules file (TOML) with the rules in force")
        self.choose_button.clicked.connect(self.choose_file)
        sources = QHBoxLayout()
        sources.addWidget(self.choose_button)
        sources.addWidget(self.proposal_button)
        sources.addStretch(1)

        proposed_box = QGroupBox("Proposed rules")
        proposed_layout = QVBoxLayout(proposed_box)
        self.proposed_label = QLabel("Choose a rules file to see what it would change.")
        self.proposed_label.setWordWrap(True)
        self.proposed_label.setAccessibleName("Proposed rules file")
        self.changes = QListWidget()
        self.changes.setAccessibleName("Changes, criterion by criterion")
        self.impact_label = QLabel()
        self.impact_label.setWordWrap(True)
        self.impact_label.setAccessibleName("What approving would do")
        proposed_layout.addWidget(self.proposed_label)
        proposed_layout.addWidget(QLabel("Changes, criterion by criterion:"))
        proposed_layout.addWidget(self.changes, 1)
        proposed_layout.addWidget(self.impact_label)

        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setAccessibleName("Result")
        self.approve_button = QPushButton("&Approve…")
        self.approve_button.setEnabled(False)
        self.approve_button.setToolTip("Choose a rules file first" if self.is_admin else NOT_ADMIN)
        self.approve_button.clicked.connect(self.approve)
        close_button = QPushButton("Close")
        close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.approve_button)
        buttons.addWidget(close_button)

        for label in (
            self.in_force_label,
            self.proposal_label,
            self.proposed_label,
            self.impact_label,
            self.result_label,
        ):
            label.setTextFormat(Qt.TextFormat.PlainText)  # file names and versions are shown, never interpreted
        layout = QVBoxLayout(self)
        layout.addWidget(force_box)
        layout.addWidget(self.proposal_label)
        layout.addLayout(sources)
        layout.addWidget(proposed_box, 1)
        layout.addWidget(self.result_label)
        layout.addLayout(buttons)
        self._show_in_force(session.approval)
        self._show_proposal()
        self.refresh()

    # --- what is in force ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the rules in force again (another desktop may have approved newer ones)."""
        self.context.query(
            lambda session: session.reload_rules(),
            title="Rules in force",
            on_success=self._show_in_force,
            on_failure=self._failed("Rules in force"),
        )

    def _session(self) -> AppSession:
        session = self.context.session
        assert session is not None  # the dialog opens only once the database is open
        return session

    def _show_in_force(self, approval: ApprovedRules) -> None:
        self.in_force_label.setText(in_force_text(approval))
        self.in_force_read.emit(approval)  # the status bar and the panel name the rules too
        self._show_proposal()

    def _show_proposal(self) -> None:
        proposal = self._session().proposal
        self.proposal_label.setVisible(proposal is not None)
        self.proposal_button.setVisible(proposal is not None)
        if proposal is not None:
            self.proposal_label.setText(proposal.notice())

    def _failed(self, title: str) -> Any:
        def report(error: BaseException) -> None:
            self.result_label.setText(f"{title}: {error}")
            Messages.error(self, title, str(error))

        return report

    # --- a proposal ------------------------------------------------------------------------------------------

    @classmethod
    def ask_file(cls, parent: QWidget | None) -> str | None:
        """The rules file the user picks, or None. (Tests replace this class method.)"""
        chosen, _ = QFileDialog.getOpenFileName(
            parent, "Choose a rules file", "", "Rules files (*.toml);;All files (*)"
        )
        return chosen or None

    def choose_file(self) -> None:
        """Pick a rules file and show what it would change."""
        chosen = self.ask_file(self)
        if not chosen:
            return
        from triage_app.domain.rules import read_rules_file

        self._preview(lambda: read_rules_file(Path(chosen)))

    def review_proposal(self) -> None:
        """Show what the rules shipped with this version of the app would change."""
        proposal = self._session().proposal
        if proposal is not None:
            self._preview(lambda: proposal.proposed)

    def _preview(self, load: Any) -> None:
        from triage_app.services.rules import preview_rules

        self._clear_preview()
        self.proposed_label.setText("Reading the rules file…")

        def task(session: AppSession) -> Any:
            return preview_rules(session.db, actor=session.actor, proposed=load())

        def failed(error: BaseException) -> None:
            # A bad file changes nothing: the reason is shown here and the rules in force stay as they are.
            self.proposed_label.setText(f"This file cannot be used; the rules in force are unchanged.\n{error}")
            Messages.error(self, "Rules file refused", str(error))

        self.context.query(task, title="Rules file refused", on_success=self._show_preview, on_failure=failed)

    def _clear_preview(self) -> None:
        self.preview = None
        self.changes.clear()
        self.impact_label.clear()
        self.result_label.clear()
        self.approve_button.setEnabled(False)

    def _show_preview(self, preview: Any) -> None:
        self.preview = preview
        proposed = preview.proposed
        self.proposed_label.setText(f"{proposed.source}: rules {proposed.version} · SHA-256 {proposed.sha256[:12]}")
        self.changes.addItems(list(preview.changes))
        if preview.refusal is not None:
            self.impact_label.setText(f"Cannot be approved: {preview.refusal}")
        elif preview.same_as_in_force:
            self.impact_label.setText("These are the rules in force: approving them again would change nothing.")
        else:
            self.impact_label.setText(
                f"Approving reassesses {preview.to_reassess:,} open referral{'s' if preview.to_reassess != 1 else ''} "
                "not yet at an MDT. Listed, discussed and closed referrals keep their assessment."
            )
        can = self.is_admin and preview.approvable
        self.approve_button.setEnabled(can)
        if not self.is_admin:
            self.approve_button.setToolTip(NOT_ADMIN)
        else:
            self.approve_button.setToolTip(
                f"Approve rules {proposed.version} for every desktop" if can else self.impact_label.text()
            )

    # --- approving -------------------------------------------------------------------------------------------

    def approve(self) -> None:
        """After a confirmation naming the version, approve the previewed rules for every desktop."""
        preview = self.preview
        if preview is None or not preview.approvable or not self.is_admin:
            return
        version = preview.proposed.version
        question = (
            f"Approve rules {version} for every desktop?\n\n"
            + "\n".join(preview.changes)
            + f"\n\n{preview.to_reassess:,} open referral{'s' if preview.to_reassess != 1 else ''} not yet at an MDT "
            "will be reassessed; a standing triage decision whose outcome changes lapses and needs a consultant "
            "again. The approval is recorded in your name."
        )
        if not Messages.confirm(self, f"Approve rules {version}", question):
            return
        from triage_app.services.app import local_today
        from triage_app.services.rules import approve_rules

        proposed = preview.proposed
        self.approve_button.setEnabled(False)

        def task(session: AppSession) -> RulesApproval:
            # Only the approval commits here; the referrals are reassessed in the background after it.
            return approve_rules(
                session.db, actor=session.actor, proposed=proposed, as_of=local_today(), reassess=False
            )

        self.context.run(
            task, title="Rules not approved", on_success=self._approved, on_failure=self._failed("Rules not approved")
        )

    def _approved(self, result: RulesApproval) -> None:
        self._session().use_approval(result.approval)  # before the broadcast: every view reads with these rules
        self._show_in_force(result.approval)
        self._clear_preview()
        self.result_label.setText(result.summary())
        self.approved.emit(result)
        # The referrals the approval left are reassessed in the background: progress bar and Cancel in the
        # status bar, the queue usable meanwhile (ui.background_reassessment).
        actions = getattr(self.parent(), "maintenance_actions", None)
        if result.deferred and actions is not None:
            actions.reassessment.start(self._session())


def open_rules_dialog(window: Any) -> RulesDialog | None:
    """The Rules in force dialog for anyone with an active role (Approve for administrators); None otherwise."""
    session = getattr(window, "session", None)
    if session is None or not session.actor.roles:
        return None
    existing = getattr(window, "rules_dialog", None)
    if isinstance(existing, RulesDialog) and existing.isVisible():
        existing.raise_()
        existing.activateWindow()
        return existing
    dialog = RulesDialog(window.context, window)
    show = getattr(window, "show_rules_in_force", None)  # the status bar and the panel name the rules too
    if callable(show):
        dialog.in_force_read.connect(lambda _approval: show())
    dialog.approved.connect(lambda _result: update_rules_notice(window))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.destroyed.connect(lambda *_: setattr(window, "rules_dialog", None))
    window.rules_dialog = dialog
    dialog.show()
    return dialog


def rules_notice(window: Any) -> QWidget | None:
    """For an administrator, a bar saying the app ships rules that differ from those in force, with Review…

    None when there is nothing to offer (no proposal) or the user is not an administrator.
    """
    session = getattr(window, "session", None)
    if session is None or session.proposal is None or not session.actor.has(ADMIN):
        return None
    bar = QFrame()
    bar.setObjectName(NOTICE_NAME)
    bar.setFrameShape(QFrame.Shape.StyledPanel)
    layout = QHBoxLayout(bar)
    text = QLabel(session.proposal.notice())
    text.setTextFormat(Qt.TextFormat.PlainText)
    text.setWordWrap(True)
    text.setAccessibleName("Proposed rules")
    review = QPushButton("Review…")
    review.setObjectName("rules_notice_review")
    review.clicked.connect(lambda: _review_from_notice(window))
    layout.addWidget(text, 1)
    layout.addWidget(review)
    return bar


def _review_from_notice(window: Any) -> None:
    dialog = open_rules_dialog(window)
    if dialog is not None:
        dialog.review_proposal()


def update_rules_notice(window: Any) -> QWidget | None:
    """Show the notice bar at the top of the main window when there is a proposal; remove it when there is not.

    Idempotent: a notice already placed (here, or by the main window itself) is replaced, never doubled.
    """
    for old in window.findChildren(QFrame, NOTICE_NAME):
        holder = old.parent()
        old.hide()
        old.deleteLater()
        if isinstance(holder, QToolBar) and holder.objectName() == f"{NOTICE_NAME}_bar":
            holder.hide()
            holder.deleteLater()
    bar = rules_notice(window)
    if bar is None:
        return None
    holder = QToolBar("Proposed rules", window)
    holder.setObjectName(f"{NOTICE_NAME}_bar")
    holder.setMovable(False)
    holder.addWidget(bar)
    window.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, holder)
    holder.show()  # a tool bar added to a window already on screen stays hidden until shown
    return bar
