"""One module per command (as calibre's db/cli does): each has `register(add)`, which adds its arguments and sets
`run` (and `needs_database=False` when it opens no database), and the functions that run it.

COMMANDS is the order of `triage-app --help`.
"""

from __future__ import annotations

from types import ModuleType

from triage_app.cli.commands import (
    audit,
    backup,
    chase,
    check,
    connect,
    demo,
    exports,
    importing,
    letters,
    meeting,
    migrate,
    queue,
    reassess,
    referral,
    restore,
    rules,
    score,
    triage,
    user,
)

COMMANDS: tuple[ModuleType, ...] = (
    score,
    importing,
    referral,
    triage,
    queue,
    reassess,
    rules,
    audit,
    user,
    backup,
    check,
    restore,
    migrate,
    connect,
    meeting,
    exports,
    letters,
    chase,
    demo,
)
