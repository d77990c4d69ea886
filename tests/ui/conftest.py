"""GUI fixtures: a real window on its own data folder and database, signed in as the user a test needs."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from tests.factories import referral
from triage_app.config import AppPaths, resolve_paths
from triage_app.domain.rules import Rules
from triage_app.services.app import local_today
from triage_app.services.referrals import register_referral
from triage_app.services.users import add_user, sign_in
from triage_app.storage.engine import Database, parse_database_url
from triage_app.ui.main_window import MainWindow

USERS = {
    "admin-test": ("Ada Admin", ["coordinator", "consultant", "admin"]),
    "coord-test": ("Cora Ordinator", ["coordinator"]),
    "cons-test": ("Dr Con Sultant", ["consultant"]),
}


@pytest.fixture
def gui_paths(tmp_path: Path, template_db: Path, server_db_url: str | None) -> AppPaths:
    """The window's data folder; its database is a copy of the migrated template, or the test's server database."""
    data = tmp_path / "gui-data"
    data.mkdir()
    if server_db_url is not None:
        return resolve_paths(data_dir=str(data), environ={"TRIAGE_APP_DB": server_db_url})
    shutil.copyfile(template_db, data / "triage.sqlite3")
    return resolve_paths(data_dir=str(data), environ={})


@pytest.fixture
def gui_db(gui_paths: AppPaths) -> Iterator[Database]:
    """The window's database, opened separately by the test (as another process would)."""
    database = Database(parse_database_url(gui_paths.db_url))
    admin = sign_in(database, login="admin-test", display_name="Ada Admin")
    for login, (name, roles) in USERS.items():
        if login != "admin-test":
            add_user(database, actor=admin, login=login, display_name=name, roles=roles)
    yield database
    database.dispose()


@pytest.fixture
def seed(gui_db: Database, rules: Rules) -> Callable[..., list[int]]:
    """Register referrals (serials and field changes) before or while the window is open."""

    def add(*specs: tuple[int, dict[str, Any]] | int) -> list[int]:
        actor = sign_in(gui_db, login="admin-test")
        ids = []
        for spec in specs:
            serial, changes = (spec, {}) if isinstance(spec, int) else spec
            received = local_today().isoformat()
            saved = register_referral(
                gui_db,
                actor=actor,
                referral=referral(
                    serial, as_of=local_today(), received_on=changes.pop("received_on", received), **changes
                ),
                rules=rules,
                as_of=local_today(),
            )
            ids.append(saved.referral_id)
        return ids

    return add


@pytest.fixture
def open_window(qtbot: Any, gui_paths: AppPaths, gui_db: Database) -> Iterator[Callable[..., MainWindow]]:
    """Open the main window as `login` and wait until its queue has loaded."""
    created: list[MainWindow] = []

    def opener(login: str = "admin-test") -> MainWindow:
        settings = QSettings(str(gui_paths.data_dir / "window.ini"), QSettings.Format.IniFormat)
        window = MainWindow(gui_paths, settings=settings, login=login)
        qtbot.addWidget(window)
        window.setProperty("smoke", True)
        window.show()
        with qtbot.waitSignal(window.session_ready, timeout=20_000):
            window.open_session()
        qtbot.waitUntil(lambda: window.model.view is not None and window.model.all_ids_known, timeout=10_000)
        qtbot.waitUntil(lambda: window.worker.pending == 0, timeout=10_000)
        # The file's quick check runs after the first page (ui.page_check): its verdict is in before a test acts.
        qtbot.waitUntil(lambda: not window.maintenance_actions.page_check.running, timeout=20_000)
        created.append(window)
        return window

    yield opener
    for window in created:
        window.shutdown()


@pytest.fixture(autouse=True)
def shown_errors(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """No modal dialog may block a headless test: each is answered here unless a test answers it itself.

    Error messages are recorded so tests can assert on what the user was told.
    """
    from PySide6.QtWidgets import QMessageBox

    from triage_app.ui import dialogs
    from triage_app.ui.chase_window import ChaseDialog
    from triage_app.ui.referral_form import ReferralForm

    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(
        dialogs.Messages, "error", classmethod(lambda cls, parent, title, text: errors.append((title, text)))
    )
    monkeypatch.setattr(dialogs.Messages, "confirm", classmethod(lambda cls, parent, title, text: False))
    monkeypatch.setattr(dialogs.Messages, "about", classmethod(lambda cls, parent, rules_version: None))
    monkeypatch.setattr(dialogs.Messages, "intended_use", classmethod(lambda cls, parent: None))
    monkeypatch.setattr(dialogs.ReasonDialog, "ask", classmethod(lambda cls, *args, **kwargs: None))
    monkeypatch.setattr(dialogs.ConflictDialog, "ask", classmethod(lambda cls, *args: dialogs.CANCEL))
    monkeypatch.setattr(dialogs.OverrideDialog, "ask", classmethod(lambda cls, *args: None))
    # Awaiting information: the chase dialog's defaults accepted, as Enter would (tests/ui/test_chase_journey types).
    monkeypatch.setattr(
        ChaseDialog, "ask", classmethod(lambda cls, *a, awaited=None: (awaited or "Clinic letter", a[2]))
    )
    monkeypatch.setattr(
        ReferralForm, "ask_unsaved", classmethod(lambda cls, parent: QMessageBox.StandardButton.Discard)
    )
    monkeypatch.setattr(
        ReferralForm, "ask_discard_unsaved", classmethod(lambda cls, parent, reason: QMessageBox.StandardButton.Discard)
    )
    return errors
