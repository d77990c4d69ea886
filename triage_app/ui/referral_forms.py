"""The referral forms of a window: opening one (new or stored), saving it, and a save's refusals and conflicts.

A save is one op on the worker: the service stores the referral and hands back its fresh detail, read in the
save's own transaction (`SavedReferral.detail`), which the panel shows; the broadcast `Changes` then repaints the
queue's row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from triage_app.services.permissions import EDIT_REFERRAL, ENTER_REFERRAL, who_may
from triage_app.ui.dialogs import CANCEL, OPEN_EXISTING, RELOAD, ConflictDialog, Messages, ReasonDialog
from triage_app.ui.dialogs import referral_patient_line as patient_line
from triage_app.ui.referral_form import ReferralForm

if TYPE_CHECKING:
    from triage_app.domain.referral import Referral
    from triage_app.services.app import AppSession
    from triage_app.services.changes import Changes
    from triage_app.services.live_changes import RemoteEdit
    from triage_app.services.referrals import ReferralDetail, SavedReferral
    from triage_app.ui.context import AppContext
    from triage_app.ui.selection import Selection

#: Shows a referral's fresh detail from an op's result, with its Changes (QueuePane.show_result).
ShowResult = Callable[["ReferralDetail", "Changes"], None]


class ReferralForms(QObject):
    """Every open form of the window; each removes itself when it closes."""

    #: A save on the way out landed and no unsaved form is left: the window may go on quitting.
    ready_to_quit = Signal()
    #: A form was saved (the window's "saved HH:MM").
    saved = Signal()

    def __init__(
        self,
        context: AppContext,
        selection: Selection,
        window: QWidget,
        *,
        show_result: ShowResult,
        status: Callable[[str, int], None],
        seen: Callable[[ReferralDetail], None] | None = None,
    ) -> None:
        super().__init__(window)
        self.context = context
        self.selection = selection
        self.window = window
        self._show_result = show_result
        self._status = status
        #: Told of every referral read to open a form (QueuePane.catch_up: a stale row of it is refreshed).
        self._seen = seen
        self.forms: list[ReferralForm] = []
        self.quitting = False

    def new_referral(self) -> ReferralForm | None:
        """Ctrl+N: an empty referral form."""
        if self.context.session is None or not self.context.may(ENTER_REFERRAL):
            return None
        form = self._show_form(None, None, None)
        form.activateWindow()
        form.focus_field("patient.nhs_number")  # a coordinator types the NHS number first
        return form

    def open_selected(self, focus_path: str | None = None) -> None:
        """Enter / double-click / Edit: the selected referral's form (loaded fresh)."""
        if self.selection.referral_id is None or self.context.session is None:
            return
        if self.context.read_only is not None:  # the form edits: the panel shows the referral instead
            self._status("Read only: see the red banner", 10_000)
            return
        if not self.context.may(EDIT_REFERRAL):  # the form is for editing: a save would only be refused
            self._status(who_may(EDIT_REFERRAL), 10_000)  # short: the status bar also says who is signed in
            return
        self.open_referral(self.selection.referral_id, focus_path)

    def form_for(self, referral_id: int | None) -> ReferralForm | None:
        """The open form of a stored referral, if there is one."""
        if referral_id is None:
            return None
        return next((f for f in self.forms if f.referral_id == referral_id), None)

    def open_referral(self, referral_id: int, focus_path: str | None = None) -> None:
        """Open a referral's form, or bring its open form forward."""
        form = self.form_for(referral_id)
        if form is not None:
            form.raise_()
            form.activateWindow()
            if focus_path:
                form.focus_field(focus_path)
            return
        from triage_app.services.referrals import get_referral

        def opened(detail: ReferralDetail) -> None:
            if self._seen is not None:
                self._seen(detail)
            existing = self.form_for(referral_id)  # opened twice quickly: one form only
            form = existing or self._show_form(detail.referral, detail.row.id, detail.row.version)
            if focus_path:
                form.focus_field(focus_path)

        self.context.query(
            lambda session: get_referral(session.db, referral_id=referral_id, actor=session.actor),
            title="Referral",
            on_success=opened,
        )

    def _show_form(self, referral: Referral | None, referral_id: int | None, version: int | None) -> ReferralForm:
        from triage_app.services.app import local_today

        session = self.context.session
        assert session is not None  # forms open only once the database is open
        form = ReferralForm(
            rules=session.rules,
            as_of=local_today(),
            referral=referral,
            referral_id=referral_id,
            version=version,
            parent=self.window,
        )
        form.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        form.cannot_save = lambda: self.context.read_only
        self.forms.append(form)
        form.closed.connect(self._form_closed)
        form.save_requested.connect(lambda parsed, rid, ver, f=form: self.save(f, parsed, rid, ver))
        form.nhs_number_entered.connect(lambda nhs, f=form: self._look_up_patient(f, nhs))
        form.open_existing_requested.connect(self.open_referral)
        form.compare_requested.connect(self.compare_with_saved)
        form.reload_requested.connect(self.reload_saved)
        form.show()
        return form

    def _form_closed(self, form: ReferralForm) -> None:
        if form in self.forms:
            self.forms.remove(form)
        if self.quitting and not any(f.dirty or f.closing_after_save for f in self.forms):
            self.ready_to_quit.emit()  # the last unsaved form was saved and closed: go on quitting

    def _look_up_patient(self, form: ReferralForm, nhs_number: str) -> None:
        from triage_app.services.referrals import patient_referrals

        except_id = form.referral_id

        def found(referrals: Any) -> None:
            if form in self.forms:
                form.show_existing(referrals)

        self.context.query(
            lambda session: patient_referrals(
                session.db, nhs_number=nhs_number, except_id=except_id, actor=session.actor
            ),
            title="Patient look-up",
            on_success=found,
        )

    def save(
        self,
        form: ReferralForm,
        referral: Referral,
        referral_id: int | None,
        version: int | None,
        *,
        demographics_confirmed: bool = False,
        second_referral_reason: str | None = None,
    ) -> None:
        """Store the form's referral: one op, whose result carries the referral's fresh detail."""
        from triage_app.services import referrals

        def store(session: AppSession) -> SavedReferral:
            from triage_app.services.app import local_today

            if referral_id is None:
                return referrals.register_referral(
                    session.db,
                    actor=session.actor,
                    referral=referral,
                    rules=session.rules,
                    as_of=local_today(),
                    demographics_confirmed=demographics_confirmed,
                    second_referral_reason=second_referral_reason,
                )
            return referrals.update_referral(
                session.db,
                actor=session.actor,
                referral_id=referral_id,
                expected_version=version or 0,
                referral=referral,
                rules=session.rules,
                as_of=local_today(),
                demographics_confirmed=demographics_confirmed,
                second_referral_reason=second_referral_reason,
            )

        def stored(result: SavedReferral) -> None:
            if referral_id is None:  # a new referral: show it, selected, once the queue reloads
                self.selection.select(result.referral_id)
            form.save_finished(result.referral_id, result.version)
            self._show_result(result.detail, result.changes)
            self.saved.emit()

        def again(**confirmations: Any) -> None:
            self.save(
                form,
                referral,
                referral_id,
                version,
                demographics_confirmed=confirmations.get("demographics", demographics_confirmed),
                second_referral_reason=confirmations.get("reason", second_referral_reason),
            )

        if self.context.waits_for_check():
            form.status.setText("Saving… waits for the database file's check after opening")
        self.context.run(
            store,
            title="The referral was not saved",
            on_success=stored,
            on_failure=lambda error: self._save_failed(form, referral, error, again),
        )

    def _save_failed(
        self, form: ReferralForm, referral: Referral, error: BaseException, again: Callable[..., None]
    ) -> None:
        from triage_app.services.errors import (
            ConflictError,
            DemographicsMismatch,
            IdentityIncomplete,
            OpenReferralExists,
        )

        self.quitting = False  # a save on the way out failed: stay, with the form open
        who = patient_line(referral)
        if isinstance(error, ConflictError):
            self._resolve_conflict(form, referral, error)
        elif isinstance(error, IdentityIncomplete):
            form.save_failed(str(error))
            form.show_field_errors(error.errors)
        elif isinstance(error, DemographicsMismatch):
            form.save_failed("the demographics differ from the stored patient")
            if Messages.confirm(
                form,
                "Different demographics for this NHS number",
                f"{error}\n\nThis referral: {who}\n\nStore it as the same patient whose demographics changed?",
            ):
                form.mark_saving()
                again(demographics=True)
        elif isinstance(error, OpenReferralExists):
            form.save_failed("the patient already has an open referral")
            answer = ReasonDialog.ask(
                "Possible duplicate referral",
                f"{who}\n\n{error}",
                form,
                other_choice=f"Open referral {error.existing_id}",
            )
            if answer == OPEN_EXISTING:
                self.open_referral(error.existing_id)
            elif answer:
                form.mark_saving()
                again(reason=answer)
        else:
            form.save_failed(str(error))
            Messages.error(form, "The referral was not saved", str(error))

    def _resolve_conflict(self, form: ReferralForm, mine: Referral, conflict: Any) -> None:
        def compare(detail: ReferralDetail) -> None:
            form.save_failed("someone else changed this referral")
            self._choose(form, mine, detail, str(conflict))

        self._read_saved(conflict.referral_id, compare)

    def _choose(self, form: ReferralForm, mine: Referral, detail: ReferralDetail, message: str) -> None:
        """Both versions side by side: reload theirs, keep my edits on top of theirs, or cancel."""
        choice = ConflictDialog.ask(message, mine, detail.referral, form)
        if choice == RELOAD:
            form.load(detail.referral, version=detail.row.version)
        elif choice != CANCEL:  # only the fields I changed go on top of theirs; the user saves again
            form.rebase(detail.referral, detail.row.version)
            form.status.setText("Your changes are kept on top of the saved version: check them, then save.")

    def _read_saved(self, referral_id: int, then: Callable[[ReferralDetail], None]) -> None:
        from triage_app.services.referrals import get_referral

        self.context.query(
            lambda session: get_referral(session.db, referral_id=referral_id, actor=session.actor),
            title="Referral",
            on_success=then,
        )

    # --- changes saved on another desktop --------------------------------------------------------------------

    def note_remote(self, edits: Mapping[int, RemoteEdit]) -> None:
        """Other desktops saved these referrals: each open form on one shows "Changed by NAME at TIME" with
        Compare and Reload, before its user tries to save over it (the save would be refused as a conflict)."""
        from triage_app.ui.live_updates import changed_by_text

        for form in self.forms:
            edit = edits.get(form.referral_id) if form.referral_id is not None else None
            newer = edit is not None and (edit.version is None or form.version is None or edit.version > form.version)
            if edit is not None and newer and not form.closing_after_save:  # versions only grow
                form.show_changed_elsewhere(changed_by_text(edit), edit.version)

    def compare_with_saved(self, form: ReferralForm) -> None:
        """The bar's Compare: this form beside the saved version, then reload, keep my edits on top, or cancel."""
        if form.referral_id is None:
            return
        mine = form.current_referral()

        def compare(detail: ReferralDetail) -> None:
            if form not in self.forms or mine is None:
                return
            self._choose(form, mine, detail, form.changed_label.text())

        self._read_saved(form.referral_id, compare)

    def reload_saved(self, form: ReferralForm) -> None:
        """The bar's Reload: the saved version in the form (unsaved edits are dropped, after asking)."""
        if form.referral_id is None:
            return
        if form.dirty and not Messages.confirm(
            form,
            "Reload the saved version?",
            f"{form.patient_header.text()}\n\n{form.changed_label.text()}\n\nYour unsaved edits in this form will be "
            "dropped. Reload the saved version?",
        ):
            return

        def reload(detail: ReferralDetail) -> None:
            if form in self.forms:
                form.load(detail.referral, version=detail.row.version)
                form.status.setText("Reloaded the saved version")

        self._read_saved(form.referral_id, reload)
