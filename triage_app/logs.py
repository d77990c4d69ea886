"""Logging to a rotating file in the data folder. No patient identifiers: code logs record ids only, and a
filter masks anything shaped like an NHS number as a second line of defence."""

from __future__ import annotations

import logging
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILENAME = "triage-app.log"
_NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")


class RedactNhsNumbers(logging.Filter):
    """Replace ten-digit NHS-number-like runs in a record's message with a mask."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _NHS_LIKE.search(message):
            record.msg = _NHS_LIKE.sub("[nhs-number]", message)
            record.args = None
        return True


def configure_logging(log_dir: Path, *, level: int = logging.INFO) -> Path:
    """Send the app's log records to `log_dir/triage-app.log` (1 MB x 5 files). Returns the file path."""
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / LOG_FILENAME
    if not path.exists():
        path.touch(mode=0o600)
    handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactNhsNumbers())
    root = logging.getLogger("triage_app")
    for old in list(root.handlers):
        if isinstance(old, RotatingFileHandler):
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(level)
    return path
