"""Logging to a rotating file in the data folder. No patient identifiers: code logs record ids only, and a
filter masks anything shaped like an NHS number as a second line of defence."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILENAME = "triage-app.log"
OWNER_ONLY = 0o600
_NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
# A SHA-256 (the audit chain's head, a backup's hash) often holds ten digits in a row: matched first and kept whole,
# so the hash logged as the audit trail's outside record stays comparable. Anything else NHS-shaped is masked.
_HASH_OR_NHS_LIKE = re.compile(
    r"(?P<hash>(?<![0-9A-Za-z])(?=[0-9]*[a-f])[0-9a-f]{32,}(?![0-9A-Za-z]))|(?P<nhs>" + _NHS_LIKE.pattern + ")"
)


def _mask(match: re.Match[str]) -> str:
    return match.group("hash") or "[nhs-number]"


class RedactNhsNumbers(logging.Filter):
    """Replace ten-digit NHS-number-like runs in a record's message with a mask (hex hashes are left whole)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _NHS_LIKE.search(message):
            record.msg = _HASH_OR_NHS_LIKE.sub(_mask, message)
            record.args = None
        return True


class OwnerOnlyRotatingFileHandler(RotatingFileHandler):
    """A rotating log whose every file (the first and each one rotation starts) is created owner-only (0600).

    The log can hold record ids and error types: nobody else on the machine reads it. Writing it must never stop
    the app: a full disk or a read-only folder drops the record (said once on standard error) instead of
    raising or printing a traceback for every line.
    """

    _told = False

    def _open(self):  # type: ignore[no-untyped-def]  # the base class's signature is untyped
        """Open the log file, creating it 0600 (umask or no umask) if it is new."""
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, OWNER_ONLY)
        with contextlib.suppress(OSError):
            os.fchmod(fd, OWNER_ONLY)  # an older file left 0644 by an earlier version is made private too
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # noqa: PTH123  # an fd, kept open

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        """A record that cannot be written is dropped; the first such failure is said once, without data."""
        if not OwnerOnlyRotatingFileHandler._told:
            OwnerOnlyRotatingFileHandler._told = True
            with contextlib.suppress(Exception):
                sys.stderr.write(f"triage-app: note: the log file {self.baseFilename} cannot be written; going on\n")


def configure_logging(log_dir: Path, *, level: int = logging.INFO) -> Path | None:
    """Send the app's log records to `log_dir/triage-app.log` (1 MB x 5 files, each owner-only).

    Returns the file's path, or None when the log folder or file cannot be written (a read-only or full disk):
    logging must not stop a command, which then runs without a log file.
    """
    path = log_dir / LOG_FILENAME
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = OwnerOnlyRotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        _remove_file_handlers()
        # No file: records are dropped, never sent to standard error by logging's last-resort handler.
        logging.getLogger("triage_app").addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactNhsNumbers())
    _remove_file_handlers()
    root = logging.getLogger("triage_app")
    root.addHandler(handler)
    root.setLevel(level)
    return path


def _remove_file_handlers() -> None:
    root = logging.getLogger("triage_app")
    for old in list(root.handlers):
        if isinstance(old, RotatingFileHandler):
            root.removeHandler(old)
            old.close()
