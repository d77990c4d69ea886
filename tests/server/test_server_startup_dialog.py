"""The desktop on a server whose schema an administrator has not upgraded: the start-up error dialog says what the
command line says (the database needs upgrading by an administrator: triage-app migrate), and nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.server.conftest import Unit
from triage_app.config import resolve_paths
from triage_app.ui.main_window import MainWindow


@pytest.mark.hazard("H03", "H04")
def test_the_start_up_dialog_names_an_older_schema_and_the_window_opens_nothing(
    qtbot: Any, unit: Unit, tmp_path: Path
) -> None:
    libpq = sa.make_url(unit.admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0004'")
    data = tmp_path / "desktop"
    data.mkdir()
    paths = resolve_paths(data_dir=str(data), environ={"TRIAGE_APP_DB": unit.user_url})
    window = MainWindow(paths, settings=QSettings(str(data / "w.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    seen: list[tuple[str, str]] = []

    def answer_the_dialog() -> None:  # the real modal QMessageBox: read it, then press its button
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append((box.windowTitle(), box.text()))
            box.accept()
        else:
            QTimer.singleShot(20, answer_the_dialog)

    QTimer.singleShot(20, answer_the_dialog)
    with qtbot.waitSignal(window.session_failed, timeout=20_000) as failed:
        window.open_session()
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert "needs upgrading by an administrator: triage-app migrate" in failed.args[0]
    title, text = seen[0]
    assert title == "Cannot open the referral database"
    assert "the database needs upgrading by an administrator: triage-app migrate" in text
    assert window.banner.isVisible() and "triage-app migrate" in window.banner_text.text()
    assert window.session is None and not window.new_action.isEnabled()
    with psycopg.connect(libpq) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0004",)
    window.shutdown()
