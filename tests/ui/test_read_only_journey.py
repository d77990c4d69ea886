"""A damaged database on the desktop: the real main window opens it read-only under a red banner that says what
is wrong and what to do; nothing that writes can be started, the queue can still be read, searched and sorted;
an administrator restores the newest verified backup from the File menu and works on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.storage.test_read_only import overwrite_index_page
from triage_app.config import AppPaths
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.rules import read_rules_file, shipped_rules_path
from triage_app.services.app import local_today
from triage_app.services.rules import ensure_rules_approved
from triage_app.services.users import sign_in
from triage_app.storage.backup import backup_sqlite
from triage_app.storage.engine import Database
from triage_app.storage.integrity import quick_check
from triage_app.ui.main_window import MainWindow


def damage(gui_paths: AppPaths, gui_db: Database) -> tuple[Path, Path, str]:
    """A verified backup first, then the database closed and one index page overwritten (finding 1 of issue 10)."""
    path = gui_db.location.path
    assert path is not None
    admin = sign_in(gui_db, login="admin-test")  # rules approved, as the first start of a window does
    ensure_rules_approved(gui_db, signed_in=admin, shipped=read_rules_file(shipped_rules_path()), as_of=local_today())
    backup = backup_sqlite(path, gui_paths.backup_dir, reason="manual")
    gui_db.dispose()
    assert not Path(f"{path}-wal").exists()  # closed cleanly: what is on disk is the whole database
    # An index the queue's views do not read (a search by hospital number would read that one, and fail, saying
    # the database is damaged): the rest of the file is as SQLite can still read it.
    overwrite_index_page(path, "ix_case_action_case_id")
    return path, backup, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.hazard("H03", "H17")
def test_a_damaged_database_opens_read_only_under_a_red_banner(
    qtbot: Any,
    gui_paths: AppPaths,
    gui_db: Database,
    seed: Callable[..., list[int]],
    open_window: Callable[..., MainWindow],
) -> None:
    seed(11, 12, 13)
    path, backup, damaged = damage(gui_paths, gui_db)
    window = open_window("coord-test")

    banner = window.read_only_banner.text()
    assert window.read_only_banner.isVisible()
    assert banner.startswith(
        "The database is damaged. It is open for reading only: nothing can be changed or saved.\n"
        f"The newest verified backup is {backup.name}. An administrator restores it with File > Restore a backup… "
        f"or the command: triage-app restore {backup.name} (you are not an administrator: ask one)"
    )
    assert "quick_check: " in banner
    assert "READ ONLY" in window.windowTitle()

    # Nothing that writes can be started: the coordinator's own actions are off, and say why.
    assert not window.new_action.isEnabled() and not window.new_button.isEnabled()
    assert "reading only" in window.new_button.toolTip()
    qtbot.mouseClick(window.new_button, Qt.MouseButton.LeftButton)
    window.new_action.trigger()
    assert window.forms == []
    assert not window.restore_action.isEnabled()  # a coordinator cannot restore

    # The queue is there, and can be searched and sorted.
    assert window.model.rowCount() == 3
    qtbot.waitUntil(lambda: window.detail is not None, timeout=10_000)
    for widget in (window.panel.confirm_button, window.panel.edit_button, window.panel.status_button):
        assert not widget.isEnabled()
    assert not window.open_action.isEnabled()
    window.open_selected()
    assert window.forms == []
    qtbot.keyClicks(window.search, make_test_nhs_number(12))
    window.apply_filters()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1 and window.model.all_ids_known, timeout=10_000)
    window.clear_filters()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3 and window.model.all_ids_known, timeout=10_000)
    window.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3 and window.model.all_ids_known, timeout=10_000)
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)

    assert hashlib.sha256(path.read_bytes()).hexdigest() == damaged  # not one byte written


@pytest.mark.hazard("H03", "H15", "H17")
def test_an_administrator_restores_the_newest_verified_backup_and_works_on(
    qtbot: Any,
    gui_paths: AppPaths,
    gui_db: Database,
    seed: Callable[..., list[int]],
    open_window: Callable[..., MainWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from triage_app.ui import dialogs

    seed(21, 22)
    path, backup, damaged = damage(gui_paths, gui_db)
    window = open_window("admin-test")
    assert window.read_only_banner.isVisible()
    assert f"File > Restore a backup… or the command: triage-app restore {backup.name}\n" in (
        window.read_only_banner.text()
    )
    for action in (window.new_action, window.users_action, window.demo_action, window.backup_action):
        assert not action.isEnabled()
    assert window.restore_action.isEnabled()

    asked: list[str] = []

    def confirm(_cls: object, _parent: object, title: str, text: str) -> bool:
        asked.append(text)
        return True

    monkeypatch.setattr(dialogs.Messages, "confirm", classmethod(confirm))
    with qtbot.waitSignal(window.session_ready, timeout=30_000):
        window.restore_action.trigger()
    qtbot.waitUntil(lambda: window.model.all_ids_known and window.worker.pending == 0, timeout=10_000)

    assert asked and f"Put the backup {backup.name} in place of the damaged database?" in asked[0]
    assert not window.read_only_banner.isVisible() and window.session.read_only is None
    assert window.new_action.isEnabled() and window.windowTitle() == "SPD Referral Triage"
    assert window.model.rowCount() == 2
    assert quick_check(path).ok  # the file in place is the sound backup
    kept = list(gui_paths.backup_dir.glob("replaced-*/triage.sqlite3"))
    assert len(kept) == 1 and hashlib.sha256(kept[0].read_bytes()).hexdigest() == damaged  # kept aside, as it was


@pytest.mark.hazard("H17")
def test_a_full_disk_opens_read_only_saying_free_space_then_restart(
    gui_paths: AppPaths,
    gui_db: Database,
    seed: Callable[..., list[int]],
    open_window: Callable[..., MainWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno

    from triage_app.storage import preflight

    seed(31)
    admin = sign_in(gui_db, login="admin-test")
    ensure_rules_approved(gui_db, signed_in=admin, shipped=read_rules_file(shipped_rules_path()), as_of=local_today())

    def no_space(_folder: Path, _size: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(preflight, "_write_probe", no_space)  # the start-up probe meets a full disk
    window = open_window("admin-test")
    assert window.read_only_banner.text().startswith(
        "The disk is full. The database is open for reading only: nothing can be changed or saved.\n"
        "Free space on the disk, then restart the app."
    )
    assert window.model.rowCount() == 1
    assert not window.new_action.isEnabled() and not window.restore_action.isEnabled()
    assert not getattr(window, "maintenance", None)  # no daily backup on a disk that is full
