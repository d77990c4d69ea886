"""One serialised database worker; results and errors come back on the GUI thread.

Like Anki's CollectionOp/QueryOp: every database call runs on a single background thread, in order, and
each call has a success path and a failure path, so a failure always reaches the user as a message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class _Delivery(QObject):
    """Lives on the GUI thread; signals emitted from the worker are queued to it."""

    finished = Signal(object, object, object, object)  # on_done, on_error, result, error


class DbWorker(QObject):
    """Runs callables one at a time off the GUI thread."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage-db")
        self._delivery = _Delivery()
        self._delivery.finished.connect(self._deliver)
        self._pending = 0
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
        future = self._executor.submit(task)

        def relay(done: Future[Any]) -> None:
            error = done.exception()
            result = None if error is not None else done.result()
            self._delivery.finished.emit(on_done, on_error, result, error)

        future.add_done_callback(relay)
        return future

    def _deliver(self, on_done: Any, on_error: Any, result: Any, error: Any) -> None:
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
