"""Screenshots of the main window and the MDT meeting window with demo data, in a real X window (run under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshot.py docs/screenshot-main.png \
        docs/screenshot-meeting.png

and the in-meeting screen as a 1366x768 laptop or projector shows it (today's meeting, case 1 in full):

    xvfb-run -a -s "-screen 0 1366x768x24" python scripts/screenshot.py /tmp/main.png \
        --in-meeting /tmp/in-meeting.png --count 60

Uses a throw-away data folder with invented referrals (test-range NHS numbers) and a demo user.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from triage_app.config import default_rules_path, resolve_paths
from triage_app.domain.rules import load_rules, read_rules_file, shipped_rules_path
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.demo import load_demo
from triage_app.services.queue import QueueFilter
from triage_app.services.referrals import list_queue
from triage_app.services.rules import ensure_rules_approved
from triage_app.services.triage import decide_triage
from triage_app.services.users import add_user, sign_in
from triage_app.storage.audit_checkpoint import checkpoint_path, set_checkpoint_path
from triage_app.storage.engine import Database, parse_database_url
from triage_app.storage.migrate import migrate
from triage_app.ui.main_window import MainWindow
from triage_app.ui.theme import apply_theme


def prepare(data_dir: Path, count: int = 412) -> None:
    """A database with demo referrals, a demo consultant-coordinator and today's meeting, filled."""
    paths = resolve_paths(data_dir=str(data_dir), environ={})
    database = Database(parse_database_url(paths.db_url))
    # The audit checkpoint the app keeps beside its backups, kept here too, so the window's first backup verifies.
    set_checkpoint_path(database.engine, checkpoint_path(data_dir / "backups"), database=database.location.describe())
    migrate(database, backup_dir=None)
    admin = sign_in(database, login="demo-admin", display_name="Demo Admin")
    # As the app's first start does: the shipped rules approved in the first administrator's name.
    ensure_rules_approved(database, signed_in=admin, shipped=read_rules_file(shipped_rules_path()), as_of=local_today())
    add_user(
        database,
        actor=admin,
        login="jpatel",
        display_name="Dr J Patel",
        roles=["coordinator", "consultant"],
        mdt_role="functional_neurosurgeon",
    )
    rules = load_rules(default_rules_path())
    load_demo(database, actor=admin, rules=rules, as_of=local_today(), count=count, seed=7)
    # Today's meeting with the ready cases a consultant confirmed, so both meeting screens have a list (outcomes
    # are recorded on or after the meeting's date).
    consultant = sign_in(database, login="jpatel")
    # By the computed outcome: demo referrals are bulk-inserted, and the queue's outcome filter may not see them.
    ready = [row for row in list_queue(database, queue_filter=QueueFilter()) if row.outcome == "ready_for_mdt"]
    for row in ready[:10]:
        decide_triage(database, actor=consultant, referral_id=row.id or 0, expected_version=row.version)
    meeting_id = meetings.create_meeting(
        database,
        actor=consultant,
        meeting_date=local_today(),
        meeting_time="13:30",
        place="Neurosciences seminar room 2",
        chair="Dr R Example",
        attendees=[("Dr R Example", "functional_neurosurgeon"), ("Dr S Sample", "movement_disorders_neurologist")],
    ).meeting_id
    meetings.fill_to_capacity(database, actor=consultant, meeting_id=meeting_id)
    database.dispose()


def _save(widget: QWidget, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(target))
    print(f"wrote {target}")


def main() -> int:
    """Open the window, pick a ready case, save the pictures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("main", nargs="?", type=Path, default=Path("docs/screenshot-main.png"))
    parser.add_argument("meeting", nargs="?", type=Path, help="the meeting window's planning tab")
    parser.add_argument("--in-meeting", type=Path, help="the meeting window's in-meeting tab, case 1")
    parser.add_argument("--count", type=int, default=412, help="demo referrals (default 412)")
    args = parser.parse_args()
    target: Path = args.main
    meeting_target: Path | None = args.meeting
    in_meeting_target: Path | None = args.in_meeting
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        prepare(data_dir, args.count)
        paths = resolve_paths(data_dir=str(data_dir), environ={})
        window = MainWindow(
            paths, settings=QSettings(str(data_dir / "w.ini"), QSettings.Format.IniFormat), login="jpatel"
        )
        window.setProperty("smoke", True)
        available = window.screen().availableGeometry()
        window.resize(min(1560, available.width()), min(940, available.height()))
        window.show()

        def pick() -> None:
            window.outcome_filter.setCurrentIndex(0)
            model = window.model
            for row in range(model.rowCount()):
                line = model.queue_row(row)
                if line is not None and line.outcome == "ready_for_mdt" and "head_tremor" in line.flags:
                    window.table.selectRow(row)
                    break
            QTimer.singleShot(1500, shoot)

        def shoot() -> None:
            _save(window, target)
            if meeting_target is None and in_meeting_target is None:
                finish()
                return
            meeting_window = window.open_meetings()
            if meeting_target is not None:  # the docs picture: roomier than the window opens on a laptop
                meeting_window.resize(min(1400, available.width()), min(820, available.height() - 40))
            QTimer.singleShot(1500, lambda: meeting_window.meetings.setCurrentRow(0))
            QTimer.singleShot(3500, lambda: shoot_meeting(meeting_window))

        def shoot_meeting(meeting_window: QWidget) -> None:
            if meeting_target is not None:
                _save(meeting_window, meeting_target)
            if in_meeting_target is None:
                finish()
                return
            meeting_window.tabs.setCurrentIndex(1)  # type: ignore[attr-defined]
            QTimer.singleShot(1000, lambda: shoot_in_meeting(meeting_window))

        def shoot_in_meeting(meeting_window: QWidget) -> None:
            assert in_meeting_target is not None
            _save(meeting_window, in_meeting_target)
            finish()

        def finish() -> None:
            window.close()
            app.quit()

        window.session_ready.connect(lambda: QTimer.singleShot(2500, pick))
        QTimer.singleShot(0, window.open_session)
        app.exec()
        window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
