"""A stop flag for long background work (a backup, an integrity check, a reassessment) that closing the window sets.

Work checks `raise_if_stopped()` between its steps (a backup copies in steps of pages; a reassessment commits in
batches), and a statement that may run for seconds (`PRAGMA quick_check`, `integrity_check`) is registered with
`watch(connection)`, so `stop()` interrupts it at once (`sqlite3.Connection.interrupt`). The work then raises
`Stopped`, and whoever started it cleans up (a partial backup is deleted; a reassessment keeps its committed
batches). Thread-safe: `stop()` is called from the GUI thread while the work runs on a worker.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator


class Stopped(Exception):
    """Background work was stopped on purpose (the window closed, or the user pressed Cancel)."""


class StopSignal:
    """Set once by `stop()`; read by the work between steps; interrupts the SQLite statements it watches."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[sqlite3.Connection] = set()

    @property
    def stopped(self) -> bool:
        """Whether `stop()` has been called."""
        return self._event.is_set()

    def stop(self) -> None:
        """Ask the work to stop; a watched statement running now is interrupted."""
        self._event.set()
        with self._lock:
            watched = list(self._connections)
        for connection in watched:
            with contextlib.suppress(sqlite3.Error):  # a connection closing meanwhile
                connection.interrupt()

    def raise_if_stopped(self, what: str = "the work") -> None:
        """`Stopped` when `stop()` has been called: the caller's step boundary."""
        if self._event.is_set():
            raise Stopped(f"{what} was stopped")

    @contextlib.contextmanager
    def watch(self, connection: sqlite3.Connection) -> Iterator[None]:
        """While inside, `stop()` interrupts the statement `connection` runs (it raises `sqlite3.OperationalError`);
        `Stopped` at once when already stopped."""
        self.raise_if_stopped("the check")  # stopped before it began (an interrupt only reaches running statements)
        with self._lock:
            self._connections.add(connection)
        try:
            yield
        finally:
            with self._lock:
                self._connections.discard(connection)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking when stopped; True when stopped."""
        return self._event.wait(seconds)
