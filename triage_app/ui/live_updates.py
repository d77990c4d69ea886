"""Live updates: a watcher thread that hears other desktops' changes and broadcasts them as this desktop's own.

One thread of its own (never the GUI thread, never the database worker, whose queue it would hold up): on
PostgreSQL it waits on a LISTEN connection (services.live_changes.waker), on SQLite it polls `PRAGMA data_version`
every `POLL_SECONDS`; when something moved it reads the change feed and hands the batch to the GUI thread, where
`LiveUpdates` keeps each referral's last remote edit (for the panel's and the form's "changed by" lines) and
broadcasts the batch's `Changes` through `AppContext.broadcast`, the way every view already refreshes.

A lost server connection is reported once (`status`), retried with a growing pause (no busy loop), and said again
when it is back, after which the feed is read at once (nothing missed: the feed is the audit trail, not the
notifications). `stop()` returns within a second: every wait is at most `TICK` and watches the stop flag.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from triage_app.services.live_changes import ChangeFeed, FeedBatch, RemoteEdit, Waker
    from triage_app.ui.context import AppContext

log = logging.getLogger(__name__)

#: SQLite: how often `PRAGMA data_version` is asked (cheap: read from the WAL index in shared memory).
POLL_SECONDS = 0.3
#: The longest single wait: the thread sees the stop flag at least this often.
TICK = 0.5
#: Pauses between reconnection attempts after the server went away (seconds), the last one repeated.
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)

LOST = "Live updates paused: the database cannot be reached; retrying"
BACK = "Live updates: connected to the database again"


def changed_by_text(edit: RemoteEdit | None, *, on_another_desktop: bool = False) -> str:
    """ "Changed by NAME at HH:MM" (local time; the date too when not today), for the panel and the form's bar."""
    if edit is None:
        return ""
    from datetime import datetime

    from triage_app.domain.formats import format_date

    local = edit.at.astimezone()
    when = (
        f"{local:%H:%M}"
        if local.date() == datetime.now().astimezone().date()
        else (f"{local:%H:%M} on {format_date(local.date())}")
    )
    what = "Changed" if edit.version is not None else "Deleted"
    return f"{what} by {edit.by} at {when}" + (" on another desktop" if on_another_desktop else "")


class _Delivery(QObject):
    """Lives on the GUI thread; only an int crosses threads (see ui.worker: objects in queued signals are unsafe)."""

    batch_ready = Signal(int)
    status_ready = Signal(int)


class LiveUpdates(QObject):
    """The watcher of one open database, and what its batches mean on this desktop."""

    #: A batch from other desktops was broadcast (its `FeedBatch`).
    arrived = Signal(object)
    #: The watcher lost or regained the server (a sentence for the status bar).
    status = Signal(str)

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        #: Each referral's last edit by another desktop since this one started (the panel and forms read it).
        self.edits: dict[int, RemoteEdit] = {}
        self._delivery = _Delivery()
        self._delivery.batch_ready.connect(self._deliver_batch)
        self._delivery.status_ready.connect(self._deliver_status)
        self._lock = threading.Lock()
        self._jobs = itertools.count(1)
        self._batches: dict[int, FeedBatch] = {}
        self._statuses: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waker: Waker | None = None
        #: Called on the watcher thread after each feed read (tests count them); not for the GUI.
        self.on_read: Callable[[FeedBatch], None] | None = None

    # --- the GUI side ----------------------------------------------------------------------------------------

    def edit_of(self, referral_id: int | None) -> RemoteEdit | None:
        """The last change another desktop made to `referral_id` since this desktop started, if any."""
        return None if referral_id is None else self.edits.get(referral_id)

    @property
    def running(self) -> bool:
        """True while the watcher thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Watch the open session's database from now on (a watcher already running is stopped first).

        The feed's starting point is read on the database worker before anything queued after it (the first page
        of the queue, the counts): no change can fall between what the views read and where the feed starts.
        """
        self.stop()
        session = self.context.session
        if session is None:
            return
        from triage_app.services.live_changes import ChangeFeed

        self._stop = stop = threading.Event()
        self.context.query(
            lambda s: ChangeFeed(s.db),
            title="Live updates",
            on_success=lambda feed: self._start_thread(feed, stop),
            on_failure=lambda error: log.warning("live updates not started: %s", type(error).__name__),
        )

    def _start_thread(self, feed: ChangeFeed, stop: threading.Event) -> None:
        if stop.is_set():  # stopped (closed, or restarted) before the feed's start was read
            return
        self._thread = threading.Thread(target=self._run, args=(feed, stop), name="triage-live-updates", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the watcher and wait for it (at most `timeout` seconds; it is a daemon thread either way)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _deliver_batch(self, job: int) -> None:
        with self._lock:
            batch = self._batches.pop(job, None)
        if batch is None or self._stop.is_set():
            return
        self.edits.update(batch.edits)
        changes = batch.changes
        session = self.context.session
        if (changes.rules or changes.everything) and session is not None:
            # Another desktop approved rules (or restored): read them before the views score anything with them;
            # the views' reads queue behind this one on the worker.
            self.context.query(lambda s: s.reload_rules(), title="Rules", on_success=lambda _approval: None)
        self.arrived.emit(batch)
        self.context.broadcast(changes)

    def _deliver_status(self, job: int) -> None:
        with self._lock:
            text = self._statuses.pop(job, None)
        if text is not None and not self._stop.is_set():
            self.status.emit(text)

    # --- the watcher thread ----------------------------------------------------------------------------------

    def _post_batch(self, batch: FeedBatch) -> None:
        job = next(self._jobs)
        with self._lock:
            self._batches[job] = batch
        self._delivery.batch_ready.emit(job)

    def _post_status(self, text: str) -> None:
        job = next(self._jobs)
        with self._lock:
            self._statuses[job] = text
        self._delivery.status_ready.emit(job)

    def _run(self, feed: ChangeFeed, stop: threading.Event) -> None:
        from triage_app.services.live_changes import polls, waker

        wake: Waker | None = None
        failures = 0
        polling = polls(feed.db)
        try:
            while not stop.is_set():
                try:
                    if wake is None:
                        wake = self._waker = waker(feed.db)
                        if failures:
                            self._post_status(BACK)
                        failures = 0
                        self._read(feed)  # what happened before it listened (or while the connection was down)
                    if polling:
                        if stop.wait(POLL_SECONDS):
                            break
                        moved = wake.wait(0)
                    else:
                        moved = wake.wait(TICK)
                    if moved and not stop.is_set():
                        self._read(feed)
                except Exception as exc:  # the connection failed: report once, back off, retry
                    if stop.is_set():
                        break
                    if wake is not None:
                        wake.close()
                        wake = self._waker = None
                    if failures == 0:
                        log.warning("live updates: %s; retrying", type(exc).__name__)
                        self._post_status(LOST)
                    pause = BACKOFF[min(failures, len(BACKOFF) - 1)]
                    failures += 1
                    if stop.wait(pause):
                        break
        finally:
            if wake is not None:
                wake.close()
            self._waker = None

    def _read(self, feed: ChangeFeed | None) -> None:
        if feed is None:
            return
        batch = feed.read()
        if self.on_read is not None:
            self.on_read(batch)
        if batch:
            self._post_batch(batch)

    def watcher_backend_pid(self) -> Any:
        """The server process of the LISTEN connection (PostgreSQL; None otherwise): tests end it."""
        wake = self._waker
        return getattr(wake, "backend_pid", lambda: None)()
