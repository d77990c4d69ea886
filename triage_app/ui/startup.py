"""Opening the database for the desktop: on the worker, guarded so no database call runs on the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from triage_app.config import AppPaths

if TYPE_CHECKING:
    from triage_app.services.app import AppSession


class GuiThreadDatabaseCall(RuntimeError):
    """A database call was made on the GUI thread: it would freeze the window."""


def gui_thread_guard() -> None:
    """Installed on the app's database: every call from the GUI thread fails loudly."""
    if threading.current_thread() is threading.main_thread():
        raise GuiThreadDatabaseCall("database call on the GUI thread; submit it to the DbWorker instead")


def is_damage(error: BaseException) -> bool:
    """True when a database read failed because the file is damaged (storage.engine says so in its message)."""
    from triage_app.storage.engine import DatabaseError

    return isinstance(error, DatabaseError) and "is damaged" in str(error)


def session_opener(paths: AppPaths, login: str | None) -> Callable[[], AppSession]:
    """The worker's task that opens, backs up and migrates the database and signs `login` in.

    A damaged, read-only or full database opens read-only (the window shows the red banner); the session's
    database refuses every call from the GUI thread from then on. The cheap looks at a SQLite file (its header,
    schema revision, whether its disk can be written) come first; the quick check of its every page is left for
    after the first paint (ui.page_check), and a file it finds damaged turns the window read-only then.
    """

    def task() -> AppSession:
        from triage_app.services.app import local_today, open_session

        session = open_session(
            paths.db_url,
            backup_dir=paths.backup_dir,
            today=local_today(),
            login=login,
            allow_read_only=True,
            defer_reassessment=True,  # the window reassesses in the background after its first paint
            defer_page_check=True,  # the whole-file quick check too (ui.page_check): writes wait for it meanwhile
        )
        session.db.thread_guard = gui_thread_guard
        return session

    return task
