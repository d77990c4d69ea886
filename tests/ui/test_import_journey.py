"""File > Import referrals…, driven through the real window (issue 14 item 3): a coordinator imports a file of
five records (two added, a duplicate, a possible duplicate, one refused); the queue shows exactly the patients
stored and the results dialog names each record as `triage-app import` names it. Cancel part-way keeps only what
was committed; bad files store nothing and say what is wrong; a consultant cannot import; the GUI thread never
stands still for 100 ms while 2,000 records go in.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QPushButton

from tests.factories import referral_json
from tests.ui.test_journeys import idle, nhs, shown_nhs
from tests.ui.test_live_updates import StallMeter
from triage_app.services.app import local_today
from triage_app.services.audit import verify_audit_trail
from triage_app.storage.engine import Database
from triage_app.ui.import_dialog import ReferralImport
from triage_app.ui.main_window import MainWindow


def write_file(folder: Path, records: Any, name: str = "referrals.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def stored_nhs(db: Database) -> list[str]:
    with db.read() as session:
        return sorted(row[0] for row in session.execute(sa.text("SELECT nhs_number FROM referral")))


def choose(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """The file chooser (a native dialog no test can drive) answers with `path`."""
    monkeypatch.setattr(ReferralImport, "choose_file", staticmethod(lambda parent: path))


def import_with_keys(qtbot: Any, window: MainWindow) -> None:
    """Alt+F opens the File menu, I picks Import referrals… (its mnemonic), as the coordinator types them."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=3000)
    QTest.keyClick(QApplication.activePopupWidget(), Qt.Key.Key_I)


def results_of(qtbot: Any, window: MainWindow, timeout: int = 60_000) -> Any:
    qtbot.waitUntil(lambda: getattr(window, "referral_import", None) is not None, timeout=5000)
    importer = window.referral_import
    qtbot.waitUntil(lambda: importer.results_dialog is not None, timeout=timeout)
    idle(qtbot, window)
    return importer.results_dialog


def received(days_ago: int) -> str:
    return local_today().fromordinal(local_today().toordinal() - days_ago).isoformat()


@pytest.mark.hazard("H02", "H01", "H03")
@pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")  # an open menu, offscreen
def test_a_coordinator_imports_a_file_and_the_queue_and_the_results_name_each_record(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    seed: Callable[..., list[int]],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (stored,) = seed(2)  # patient 2's open referral, received today
    bad = nhs(3)[:-1] + str((int(nhs(3)[-1]) + 1) % 10)  # a typing error in the check digit
    records = [
        referral_json(1, external_id="IMP-1", received_on=received(30)),
        referral_json(2, external_id="IMP-2", received_on=received(0)),  # the one stored: a duplicate
        referral_json(3, external_id="IMP-3", patient__nhs_number=bad),  # refused
        referral_json(4, external_id="IMP-4", received_on=received(10)),
        referral_json(2, external_id="IMP-5", received_on=received(40)),  # patient 2 again: a possible duplicate
    ]
    choose(monkeypatch, write_file(tmp_path, records))
    window = open_window("coord-test")
    assert shown_nhs(window) == [nhs(2)]
    assert window.import_action.isEnabled()

    import_with_keys(qtbot, window)
    dialog = results_of(qtbot, window)

    # The queue shows exactly the patients stored: the one seeded and the two added (never the refused number).
    qtbot.waitUntil(lambda: sorted(shown_nhs(window)) == sorted([nhs(1), nhs(2), nhs(4)]), timeout=5000)
    assert stored_nhs(gui_db) == sorted([nhs(1), nhs(2), nhs(4)])
    text = dialog.text
    assert "2 added, 1 duplicate, 1 possible duplicate, 1 refused of 5 records" in text
    lines = dialog.records.toPlainText().splitlines()
    added = {r.index: r.referral_id for r in dialog.report.results if r.kind == "added"}
    assert lines[0] == f"record 1 (external_id IMP-1): added as referral {added[0]} (Ready for MDT)"
    assert lines[1] == (
        f"record 2 (external_id IMP-2): duplicate of referral {stored} (same NHS number and received date); not added"
    )
    assert lines[2] == "record 3 (external_id IMP-3): refused"
    assert lines[3].startswith("    patient.nhs_number: ") and "check digit" in lines[3]
    assert lines[4] == f"record 4 (external_id IMP-4): added as referral {added[3]} (Ready for MDT)"
    assert lines[5].startswith(f"record 5 (external_id IMP-5): possible duplicate of referral {stored} ")
    # Each added referral is the patient the file named (H01).
    with gui_db.read() as session:
        by_id = dict(session.execute(sa.text("SELECT id, nhs_number FROM referral")).all())
    assert by_id[added[0]] == nhs(1) and by_id[added[3]] == nhs(4)
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.referral_import.results_dialog is None, timeout=3000)
    audit = verify_audit_trail(gui_db, log_dir=window.context.paths.log_dir)
    assert audit.chain.first_broken is None and audit.referrals_not_covered == 0, audit.problems


@pytest.mark.hazard("H03")
def test_cancel_part_way_keeps_exactly_the_records_committed_and_lists_them(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [referral_json(serial, external_id=f"C-{serial}") for serial in range(1, 7)]
    choose(monkeypatch, write_file(tmp_path, records))
    window = open_window("coord-test")
    reached, release = threading.Event(), threading.Event()

    def hold_after_second(result: Any) -> None:  # on the worker: record 2 is committed; wait for the test
        if result.index == 1:
            reached.set()
            assert release.wait(20)

    window.referral_import = ReferralImport(window.context, window)
    window.referral_import.after_record = hold_after_second
    window.import_action.trigger()
    qtbot.waitUntil(reached.is_set, timeout=20_000)
    progress = window.referral_import.progress_dialog
    assert progress is not None and progress.isVisible()
    qtbot.waitUntil(lambda: progress.labelText().startswith("Importing: 2 of 6"), timeout=3000)
    cancel = next(b for b in progress.findChildren(QPushButton) if b.text() == "Cancel")
    QTest.mouseClick(cancel, Qt.MouseButton.LeftButton)
    release.set()
    dialog = results_of(qtbot, window)
    assert stored_nhs(gui_db) == sorted([nhs(1), nhs(2)])
    qtbot.waitUntil(lambda: sorted(shown_nhs(window)) == sorted([nhs(1), nhs(2)]), timeout=5000)
    assert dialog.report.cancelled_at == 2
    text = dialog.text
    assert "Import cancelled" in text
    assert "cancelled after record 2 of 6: 2 added, 0 duplicate, 0 possible duplicate, 0 refused" in text
    assert "record 1 (external_id C-1): added as referral" in text
    assert "record 2 (external_id C-2): added as referral" in text
    assert "records 3-6: not stored" in text
    audit = verify_audit_trail(gui_db, log_dir=window.context.paths.log_dir)
    assert audit.chain.first_broken is None and audit.referrals_not_covered == 0, audit.problems


def test_the_queue_answers_a_search_while_an_import_runs(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The import has a worker of its own: held part-way, the coordinator still searches the queue, and finds
    the patient the import has just stored (the window's own worker is free)."""
    records = [referral_json(serial, external_id=f"S-{serial}") for serial in range(1, 5)]
    choose(monkeypatch, write_file(tmp_path, records))
    window = open_window("coord-test")
    reached, release = threading.Event(), threading.Event()

    def hold_after_first(result: Any) -> None:  # on the import's worker: record 1 is committed; wait
        if result.index == 0:
            reached.set()
            assert release.wait(30)

    window.referral_import = ReferralImport(window.context, window)
    window.referral_import.after_record = hold_after_first
    window.import_action.trigger()
    try:
        qtbot.waitUntil(reached.is_set, timeout=20_000)
        progress = window.referral_import.progress_dialog
        assert progress is not None and progress.isVisible() and not progress.isModal()
        qtbot.mouseClick(window.search, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(window.search, nhs(1))
        qtbot.keyClick(window.search, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: shown_nhs(window) == [nhs(1)], timeout=10_000)  # answered with the import held
        assert window.referral_import.running
    finally:
        release.set()
    dialog = results_of(qtbot, window)
    assert len(dialog.report.added) == 4
    assert stored_nhs(gui_db) == sorted(nhs(serial) for serial in range(1, 5))


@pytest.mark.hazard("H15")
def test_a_consultant_cannot_import(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    choose(monkeypatch, write_file(tmp_path, [referral_json(1)]))
    window = open_window("cons-test")
    assert not window.import_action.isEnabled()
    assert "coordinator" in window.import_action.toolTip().lower()
    window.import_referrals()  # even reached another way, nothing is imported
    idle(qtbot, window)
    assert stored_nhs(gui_db) == []


@pytest.mark.hazard("H03")
@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "not valid JSON at line 1, column 2"),
        (b"", "the file is empty"),
        (b"42", "holds a number; expected a referral"),
        (b"[]", "the array is empty"),
        (json.dumps([referral_json(1), "a note"]).encode(), "record 2 is text, not a referral"),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
)
def test_a_bad_file_is_named_and_nothing_is_stored(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[tuple[str, str]],
    content: bytes,
    says: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    choose(monkeypatch, path)
    window = open_window("coord-test")
    window.import_action.trigger()
    qtbot.waitUntil(lambda: bool(shown_errors), timeout=10_000)
    title, text = shown_errors[-1]
    assert title == "Referrals not imported"
    assert text.lower().startswith("bad.json: ") and says in text  # the message box capitalises its first word
    assert stored_nhs(gui_db) == []
    assert window.referral_import.progress_dialog is None and window.referral_import.results_dialog is None


@pytest.mark.hazard("H03")
def test_an_unreadable_or_huge_file_is_named_and_nothing_is_stored(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown_errors: list[tuple[str, str]],
) -> None:
    window = open_window("coord-test")
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:  # sparse: 65 MB said, nothing written
        handle.truncate(65 * 1024 * 1024)
    for path, says in ((huge, "the file is too big to import"), (tmp_path, "is not a file")):
        choose(monkeypatch, path)
        shown_errors.clear()
        window.import_action.trigger()
        qtbot.waitUntil(lambda: bool(shown_errors), timeout=10_000)
        assert says in shown_errors[-1][1]
    assert stored_nhs(gui_db) == []


def test_the_window_keeps_answering_while_records_are_imported(
    qtbot: Any,
    open_window: Callable[..., MainWindow],
    gui_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The import runs on the worker: the GUI thread keeps ticking throughout. An import on the GUI thread would
    hold it for the whole import (seconds). The 100 ms target itself is measured by the benchmark, not here: a
    timed test on a shared machine measures the machine."""
    from triage_app.domain.demo import synthetic_referral

    rng = __import__("random").Random(14)
    records = [synthetic_referral(serial, rng, local_today()) for serial in range(1, 401)]
    choose(monkeypatch, write_file(tmp_path, records))
    window = open_window("coord-test")
    meter = StallMeter(window)
    started = time.perf_counter()
    window.import_action.trigger()
    dialog = results_of(qtbot, window, timeout=600_000)
    took = time.perf_counter() - started
    longest = meter.stop()
    assert len(dialog.report.added) == 400, dialog.report.summary()
    print(f"400 records imported in {took:.1f} s; longest GUI-thread stall {longest * 1000:.0f} ms")
    assert longest < min(1.0, took / 4), f"the window stood still for {longest * 1000:.0f} ms of {took:.1f} s"
