"""Screenshot of the main window with demo data, in a real X window (run under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshot.py docs/screenshot-main.png \
        docs/screenshot-meeting.png

Uses a throw-away data folder with invented referrals (test-range NHS numbers) and a demo user.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from triage_app.config import default_rules_path, resolve_paths
from triage_app.domain.rules import load_rules
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.demo import load_demo
from triage_app.services.queue import QueueFilter
from triage_app.services.referrals import list_queue
from triage_app.services.triage import decide_triage
from triage_app.services.users import add_user, sign_in
from triage_app.storage.engine import Database, parse_database_url
from triage_app.storage.migrate import migrate
from triage_app.ui.main_window import MainWindow
from triage_app.ui.theme import apply_theme


def prepare(data_dir: Path) -> None:
    """A database with demo referrals and a demo consultant-coordinator."""
    paths = resolve_paths(data_dir=str(data_dir), environ={})
    database = Database(parse_database_url(paths.db_url))
    migrate(database, backup_dir=None)
    admin = sign_in(database, login="demo-admin", display_name="Demo Admin")
    add_user(database, actor=admin, login="jpatel", display_name="J Patel", roles=["coordinator", "consultant"])
    rules = load_rules(default_rules_path())
    load_demo(database, actor=admin, rules=rules, as_of=local_today(), count=412, seed=7)
    # A planned meeting with the week's ready cases, confirmed by a consultant, so the meeting window has a list.
    consultant = sign_in(database, login="jpatel")
    for row in list_queue(database, queue_filter=QueueFilter(outcome="ready_for_mdt"), limit=10):
        decide_triage(database, actor=consultant, referral_id=row.id or 0, expected_version=row.version)
    meeting_id = meetings.create_meeting(
        database,
        actor=consultant,
        meeting_date=local_today() + timedelta(days=12),
        meeting_time="13:30",
        place="Neurosciences seminar room 2",
        chair="Dr R Example",
        attendees=[("Dr R Example", "functional_neurosurgeon"), ("Dr S Sample", "movement_disorders_neurologist")],
    )
    meetings.fill_to_capacity(database, actor=consultant, meeting_id=meeting_id)
    database.dispose()


def main() -> int:
    """Open the window, pick a ready case, save the picture."""
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot-main.png")
    meeting_target = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        prepare(data_dir)
        paths = resolve_paths(data_dir=str(data_dir), environ={})
        window = MainWindow(
            paths, settings=QSettings(str(data_dir / "w.ini"), QSettings.Format.IniFormat), login="jpatel"
        )
        window.setProperty("smoke", True)
        window.resize(1560, 940)
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
            target.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(target))
            print(f"wrote {target}")
            if meeting_target is None:
                finish()
                return
            meeting_window = window.open_meetings()
            meeting_window.resize(1400, 820)
            QTimer.singleShot(1500, lambda: meeting_window.meetings.setCurrentRow(0))
            QTimer.singleShot(3500, lambda: shoot_meeting(meeting_window))

        def shoot_meeting(meeting_window: object) -> None:
            assert meeting_target is not None
            meeting_window.grab().save(str(meeting_target))  # type: ignore[attr-defined]
            print(f"wrote {meeting_target}")
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
