"""What every view needs from the app, and the one way a view runs database work.

Like Anki's `CollectionOp`: a view hands an *op* (a function of the open `AppSession`) to `AppContext.run`; the op
runs on the one database worker, is given the session (views never copy `db`, `actor` or `rules` out of it),
and its result or its failure comes back on the GUI thread. Every op that writes returns `Changes` (or a result
carrying `.changes`), and `run` broadcasts it on `changed` after the caller's success callback: each view then
refreshes only its own part (the queue its rows, the side panel its counts, the panel its referral, the meeting
window its meeting). Reads go through `query`, which broadcasts nothing.

Views are given an `AppContext` instead of the main window: what they may do (`may`), where the data lives
(`paths`), and the session once it is open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, Signal

from triage_app.config import AppPaths
from triage_app.ui.worker import DbWorker

if TYPE_CHECKING:  # type-only: importing the services here would load SQLModel before the window shows
    from triage_app.services.app import AppSession
    from triage_app.services.changes import Changes

log = logging.getLogger(__name__)

Result = TypeVar("Result")

#: Reports a failed op to the user: (title, error). The main window sets it; by default failures are logged.
FailureReporter = Callable[[str, BaseException], None]


class OpReturnedNoChanges(TypeError):
    """An op run with `AppContext.run` returned neither `Changes` nor a result carrying `.changes`."""


def changes_of(result: object) -> Changes:
    """The `Changes` an op's result reports (the result itself, or its `.changes`)."""
    from triage_app.services.changes import Changes

    if isinstance(result, Changes):
        return result
    changes = getattr(result, "changes", None)
    if isinstance(changes, Changes):
        return changes
    raise OpReturnedNoChanges(f"an op returned {type(result).__name__}, not Changes: use query() for reads")


#: What the window says of a write waiting for the file's check after opening (short: the status bar at 1366 px).
WAITS_FOR_CHECK = "Saving waits for the file check after opening; it goes on once it passes"


class NoSession(RuntimeError):
    """An op was asked for before the database was open."""


class AppContext(QObject):
    """The open session, the worker, the user's permissions and the broadcast of changes."""

    #: A `Changes` report, from this desktop's ops (and, later, from other desktops'): views refresh from it.
    changed = Signal(object)
    #: The session opened (or was replaced by a restore).
    session_opened = Signal()
    #: A write was submitted while the database file's check after opening runs (SQLite): it waits for the check,
    #: which can take most of a minute at a million referrals, so the window says why nothing seems to happen.
    write_waits = Signal(str)

    def __init__(self, worker: DbWorker, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.paths = paths
        self._session: AppSession | None = None
        self.report_failure: FailureReporter = _log_failure

    # --- the session -----------------------------------------------------------------------------------------

    @property
    def session(self) -> AppSession | None:
        """The open session, or None before it opens."""
        return self._session

    def set_session(self, session: AppSession | None) -> None:
        """The database opened (or closed): views enable themselves from `session_opened`."""
        self._session = session
        if session is not None:
            self.session_opened.emit()

    @property
    def read_only(self) -> str | None:
        """Why the open database can only be read, or None."""
        return None if self._session is None else self._session.read_only

    def may(self, action: str) -> bool:
        """Whether the signed-in user's roles allow `action` (services.permissions); the service decides.

        With the database open for reading only, no action that writes is allowed.
        """
        if self._session is None:
            return False
        from triage_app.services.app import allowed_read_only
        from triage_app.services.permissions import actor_may

        if not actor_may(self._session.actor, action):
            return False
        return self._session.read_only is None or allowed_read_only(action)

    def waits_for_check(self) -> bool:
        """Whether a write now would wait for the database file's check after opening (not yet answered)."""
        check = None if self._session is None else self._session.page_check
        return check is not None and not check.answered

    # --- running work ----------------------------------------------------------------------------------------

    def run(
        self,
        op: Callable[[AppSession], Result],
        *,
        title: str,
        on_success: Callable[[Result], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> Future[Any]:
        """Run a writing op on the worker; on success call `on_success`, then broadcast its `Changes`.

        `title` names the action in a failure message ("Triage decision not recorded"). `on_failure` replaces the
        standard report (a save handles its conflicts itself).
        """
        session = self._require_session()
        if self.waits_for_check():
            self.write_waits.emit(WAITS_FOR_CHECK)

        def done(result: Result) -> None:
            changes = changes_of(result)
            if on_success is not None:
                on_success(result)
            if changes:
                self.changed.emit(changes)

        return self.worker.submit(lambda: op(session), done, on_failure or self._failure(title))

    def query(
        self,
        op: Callable[[AppSession], Result],
        *,
        title: str,
        on_success: Callable[[Result], None],
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> Future[Any]:
        """Run a reading op on the worker and hand its result to `on_success` on the GUI thread."""
        session = self._require_session()
        return self.worker.submit(lambda: op(session), on_success, on_failure or self._failure(title))

    def broadcast(self, changes: Changes) -> None:
        """Tell every view about changes made outside an op (a restore, a notification from another desktop)."""
        if changes:
            self.changed.emit(changes)

    def _require_session(self) -> AppSession:
        if self._session is None:
            raise NoSession("the database is not open yet")
        return self._session

    def _failure(self, title: str) -> Callable[[BaseException], None]:
        return lambda error: self.report_failure(title, error)


def _log_failure(title: str, error: BaseException) -> None:
    log.error("%s: %s", title, type(error).__name__)
