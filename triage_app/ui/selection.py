"""The one owner of "the selected referral": which row of the current view is selected, and its detail.

The triage panel and every action on it follow this object only. A row that leaves the view (a search, a
filter, a refresh, another user's change) clears it, so nothing can act on a patient who is not on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:  # type-only: the services (and SQLModel) load after the window shows
    from triage_app.services.referrals import ReferralDetail


class Selection(QObject):
    """The selected referral's id and, once fetched, its `ReferralDetail`."""

    changed = Signal()  # the id or the detail changed: the panel and the actions follow

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._referral_id: int | None = None
        self._detail: ReferralDetail | None = None

    @property
    def referral_id(self) -> int | None:
        """The selected referral, or None."""
        return self._referral_id

    @property
    def detail(self) -> ReferralDetail | None:
        """The selected referral's detail once it has arrived (None while it loads or with no selection)."""
        return self._detail

    def select(self, referral_id: int | None) -> bool:
        """Select a referral (None clears). Returns True when that changed the selection."""
        if referral_id == self._referral_id:
            return False
        self._referral_id = referral_id
        self._detail = None
        self.changed.emit()
        return True

    def hold(self) -> None:
        """Keep the id (to find the row again once the view has arrived) but drop the detail, so nothing acts."""
        if self._detail is not None:
            self._detail = None
            self.changed.emit()

    def set_detail(self, detail: ReferralDetail | None) -> None:
        """The fetched detail, kept only if it is still the selected referral's."""
        if detail is None or detail.row.id != self._referral_id:
            return  # the user moved on meanwhile
        self._detail = detail
        self.changed.emit()
