"""One serialised database worker; results and errors come back on the GUI thread.

Like Anki's CollectionOp/QueryOp: every database call runs on a single background thread, in order, and
each call has a success path and a failure path, so a failure always reaches the user as a message.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class _Delivery(QObject):
    """Lives on the GUI thread; signals emitted from the worker are queued to it.

    Only an int crosses the thread boundary: results wait in a dict under their job number. (Passing Python
    objects, None above all, through queued `Signal(object)` arguments corrupts reference counts in some
    PySide6 releases and crashes the app after many calls.)
    """

    finished = Signal(int)


class DbWorker(QObject):
    """Runs callables one at a time off the GUI thread."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage-db")
        self._delivery = _Delivery()
        self._delivery.finished.connect(self._deliver)
        self._pending = 0
        self._jobs = itertools.count(1)
        self._results: dict[int, tuple[Any, Any, Any, BaseException | None]] = {}
        self._lock = threading.Lock()
        self.worker_thread_ident: int | None = None
        self._executor.submit(self._remember_thread).result()

    def _remember_thread(self) -> None:
        self.worker_thread_ident = threading.get_ident()

    @property
    def pending(self) -> int:
        """Calls submitted and not yet delivered."""
        return self._pending

    def submit(
        self,
        task: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Future[Any]:
        """Queue `task`; `on_done(result)` or `on_error(exception)` later runs on the GUI thread."""
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        job = next(self._jobs)
        future = self._executor.submit(task)

        def relay(done: Future[Any]) -> None:
            error = done.exception()
            result = None if error is not None else done.result()
            with self._lock:
                self._results[job] = (on_done, on_error, result, error)
            self._delivery.finished.emit(job)

        future.add_done_callback(relay)
        return future

    def _deliver(self, job: int) -> None:
        with self._lock:
            on_done, on_error, result, error = self._results.pop(job)
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                log.error("background task failed: %s", type(error).__name__)
        elif on_done is not None:
            on_done(result)

    def shutdown(self) -> None:
        """Finish queued work and stop the thread."""
        self._executor.shutdown(wait=True)
