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

pytestmark = pytest.mark.sqlite_only(
    "a damaged, lost or full SQLite file opened read-only; a server reports its own faults"
)


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
    assert "quick_check: " in window.read_only_banner.toolTip()  # what SQLite found, for IT
    assert "\nDetails" not in banner  # two lines on the banner itself
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
    assert window.read_only_banner.text().endswith(  # an administrator is not told to ask one
        f"File > Restore a backup… or the command: triage-app restore {backup.name}"
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
    assert asked[0] == window.restore_asked
    assert " local time (" in asked[0] and " UTC): 2 referrals, " in asked[0]  # its time, both ways, and counts
    assert (
        f"Kept aside, not deleted: triage.sqlite3 (from {path.parent}) are moved into a new folder replaced-"
        in (asked[0])
    )
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


# --- a database file lost (emptied or missing): the red banner, wrapped, and File > Restore a backup… ------------


def lost(gui_paths: AppPaths, gui_db: Database, how: str) -> tuple[Path, Path]:
    """A verified backup, then the database file emptied (as an interrupted copy leaves it) or moved away."""
    path = gui_db.location.path
    assert path is not None
    admin = sign_in(gui_db, login="admin-test")
    ensure_rules_approved(gui_db, signed_in=admin, shipped=read_rules_file(shipped_rules_path()), as_of=local_today())
    backup = backup_sqlite(path, gui_paths.backup_dir, reason="manual")
    gui_db.dispose()
    if how == "empty":
        path.write_bytes(b"")
    else:
        path.rename(path.with_name("moved-away.sqlite3"))
    for side in path.parent.glob("triage.sqlite3-*"):
        side.unlink()
    return path, backup


def start_lost(qtbot: Any, gui_paths: AppPaths, login: str) -> MainWindow:
    """The real window started on a lost database: its start fails, then the backup is read on the worker."""
    from PySide6.QtCore import QSettings

    settings = QSettings(str(gui_paths.data_dir / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow(gui_paths, settings=settings, login=login)
    qtbot.addWidget(window)
    window.setProperty("smoke", True)
    window.resize(1366, 768)
    window.show()
    with qtbot.waitSignal(window.session_failed, timeout=20_000):
        window.open_session()
    qtbot.waitUntil(lambda: window.lost_offer is not None and window.worker.pending == 0, timeout=10_000)
    return window


def click_menu_action(qtbot: Any, window: MainWindow, menu_title: str, action: Any) -> None:
    """Open the menu bar's menu and click the action with the mouse (QTest), as a user does."""
    from PySide6.QtTest import QTest

    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == menu_title)
    menu.popup(window.mapToGlobal(window.menuBar().geometry().bottomLeft()))
    qtbot.waitUntil(menu.isVisible, timeout=5_000)
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())


@pytest.mark.hazard("H17")
@pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")  # an open menu, offscreen
@pytest.mark.parametrize("how", ["empty", "missing"])
def test_a_lost_database_file_shows_a_wrapped_banner_and_an_administrator_restores_it_from_the_menu(
    qtbot: Any,
    gui_paths: AppPaths,
    gui_db: Database,
    seed: Callable[..., list[int]],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    from triage_app.ui import dialogs

    seed(41, 42, 43)
    path, backup = lost(gui_paths, gui_db, how)
    window = start_lost(qtbot, gui_paths, "admin-test")

    banner = window.read_only_banner
    what = "is empty (0 bytes)" if how == "empty" else "is missing"
    assert banner.isVisible() and banner.wordWrap()
    assert banner.text().startswith(
        f"The database file {what}. Nothing was created in its place: nothing can be shown or saved.\n"
        f"The newest verified backup is {backup.name}. An administrator restores it with File > Restore a backup… "
        f"or the command: triage-app restore {backup.name}\nDetails: "
    )
    # Wrapped within the window, tall enough for every line, and the side panel keeps its width.
    assert banner.width() <= window.width() and banner.height() >= banner.heightForWidth(banner.width())
    assert window.sidebar.width() >= 150
    assert not window.banner.isVisible() or window.banner.width() <= window.width()
    assert (path.stat().st_size == 0) if how == "empty" else not path.exists()  # nothing made in its place
    assert window.restore_action.isEnabled()  # an administrator in the backup

    asked: list[str] = []

    def confirm(_cls: object, _parent: object, _title: str, text: str) -> bool:
        asked.append(text)
        return True

    monkeypatch.setattr(dialogs.Messages, "confirm", classmethod(confirm))
    with qtbot.waitSignal(window.session_ready, timeout=30_000):
        click_menu_action(qtbot, window, "&File", window.restore_action)
    qtbot.waitUntil(lambda: window.model.all_ids_known and window.worker.pending == 0, timeout=10_000)

    assert (
        asked
        and f"Put the backup {backup.name} in place of the {'empty' if how == 'empty' else 'missing'} database file?"
        in asked[0]
    )
    assert " local time (" in asked[0] and " UTC): 3 referrals, " in asked[0]  # its time, both ways, and counts
    if how == "missing":
        assert f"There is no database file at {path} now, so nothing is kept aside." in asked[0]
    else:
        assert "Kept aside, not deleted: triage.sqlite3 (from " in asked[0]
    assert not banner.isVisible() and window.session.read_only is None
    assert window.model.rowCount() == 3 and quick_check(path).ok
    report = window.last_report
    assert report is not None and report.windowTitle() == "Backup restored"
    text = report.text()
    assert f"Restored the backup {backup.name}\ntaken " in text and "3 referrals" in text
    if how == "empty":
        assert "The replaced files were kept in " in text and str(gui_paths.backup_dir / "replaced-") in text
        assert len(list(gui_paths.backup_dir.glob("replaced-*/triage.sqlite3"))) == 1
    else:  # nothing to keep, and no empty folder made for it
        assert "Nothing was kept aside: there was no database file." in text
        assert not list(gui_paths.backup_dir.glob("replaced-*"))
    assert "Administrator checked in the backup." in text
    report.close()
    window.shutdown()


@pytest.mark.hazard("H17")
def test_a_coordinator_is_not_offered_the_restore_of_a_lost_database(
    qtbot: Any, gui_paths: AppPaths, gui_db: Database, seed: Callable[..., list[int]]
) -> None:
    seed(51)
    _path, backup = lost(gui_paths, gui_db, "missing")
    window = start_lost(qtbot, gui_paths, "coord-test")
    assert not window.restore_action.isEnabled()
    assert f"triage-app restore {backup.name} ('coord-test' is not an administrator in the backup" in (
        window.read_only_banner.text()
    )
    window.restore_backup()  # called anyway: nothing happens
    assert not (gui_paths.data_dir / "triage.sqlite3").exists()
    window.shutdown()


@pytest.mark.hazard("H17")
def test_the_backup_result_is_shown_in_full_and_a_read_only_refusal_is_short(
    qtbot: Any,
    gui_paths: AppPaths,
    gui_db: Database,
    seed: Callable[..., list[int]],
    open_window: Callable[..., MainWindow],
) -> None:
    seed(61, 62)
    window = open_window("admin-test")
    window.backup_action.trigger()
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=20_000)
    report = window.last_report
    assert report is not None
    name = report.text().split("\n")[0].removeprefix("Backed up to ")
    assert (gui_paths.backup_dir / name).is_file() and name.endswith("-manual.sqlite3")
    assert f"in the folder {gui_paths.backup_dir}\n\nVerified: integrity ok, 2 referrals" in report.text()
    assert window.statusBar().currentMessage() == f"Backed up: {name}"
    assert window.statusBar().toolTip() == report.text()
    report.close()
    assert len(window._read_only_short()) <= 40


@pytest.mark.hazard("H17")
def test_a_read_that_runs_into_the_damage_says_so_in_the_status_bar_without_a_dialog(
    qtbot: Any,
    gui_paths: AppPaths,
    gui_db: Database,
    seed: Callable[..., list[int]],
    open_window: Callable[..., MainWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The side panel's counts read the damaged queue index: the banner already says the database is damaged, so
    the failed count is a status-bar line, not a dialog on every refresh; the queue itself is still read."""
    from triage_app.ui import dialogs

    errors: list[str] = []
    monkeypatch.setattr(dialogs.Messages, "error", classmethod(lambda cls, parent, title, text: errors.append(title)))
    seed(31, 32, 33)
    path = gui_db.location.path
    assert path is not None
    damage(gui_paths, gui_db)
    overwrite_index_page(path, "ix_referral_queue")  # the counts' index, as a screenshot of a damaged file showed
    overwrite_index_page(path, "ix_referral_order_outcome")  # the other index by outcome (schema 0007): either serves
    window = open_window("coord-test")
    qtbot.waitUntil(lambda: "not available (database damaged)" in window.statusBar().currentMessage())
    assert window.read_only_banner.isVisible()
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)
    window.refresh()  # F5 again: still no dialog
    qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)
    assert errors == []
