"""Maintenance from the desktop: demo data, a backup now, the daily backup, and restoring a backup.

Given the `AppContext` and the window (for its messages and status bar). The demo load and a restore change
everything: they report `EVERYTHING`, and every view reloads itself from that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from triage_app.services.permissions import LOAD_DEMO, RESTORE_BACKUP
from triage_app.storage.stopping import Stopped, StopSignal
from triage_app.ui.background_reassessment import BackgroundReassessment
from triage_app.ui.dialogs import Messages
from triage_app.ui.page_check import LatePageCheck
from triage_app.ui.worker import DbWorker

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.services.demo import DemoLoaded
    from triage_app.ui.context import AppContext
    from triage_app.ui.read_only_banner import ReadOnlyBanner

log = logging.getLogger(__name__)

DEMO_COUNT = 300


def _clock() -> str:
    """The local time of day, for a status line."""
    from datetime import datetime

    return datetime.now().astimezone().strftime("%H:%M")


class MaintenanceActions(QObject):
    """Demo data, backups and restores of one window's database."""

    #: Emitted from the daily backup's worker when it begins a backup (queued to the GUI thread).
    _say_started = Signal()

    def __init__(
        self, context: AppContext, window: QMainWindow, *, login: str | None, reopen: Callable[[], None]
    ) -> None:
        super().__init__(window)
        self._say_started.connect(self._on_started)
        self._login = login  # who signs in (None: the operating-system login), for a lost file's restore offer
        self.context = context
        self.window = window
        self._reopen = reopen
        #: A database file found missing or empty at start: the newest verified backup and who may restore it.
        self.lost_offer: Any = None
        #: The question a restore asked (services.maintenance.restore_question), kept for whoever looks (and tests).
        self.restore_asked = ""
        #: The last report shown in a message box (a restore, a backup), kept for whoever looks (and tests).
        self.last_report: QMessageBox | None = None
        self.daily: DbWorker | None = None  # the daily backup's own worker, made when first needed
        #: The background reassessment after a rules change (its progress bar and Cancel in the status bar).
        self.reassessment = BackgroundReassessment(context, window)
        #: The whole-file check left for after the first page (ui.page_check): the work below waits for it.
        self.page_check = LatePageCheck(context, window)
        #: Set when the window closes: the daily backup stops between its steps (storage.stopping).
        self.daily_stop: StopSignal | None = None
        #: What the daily backup last said in the status bar ("Backing up…", taken, stopped), for tests.
        self.daily_state = ""

    def _status(self, text: str, timeout: int) -> None:
        self.window.statusBar().showMessage(text, timeout)

    def show_report(self, title: str, text: str) -> QMessageBox:
        """A result shown in full in a message box that does not block (a restore, a backup)."""
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()
        self.last_report = box
        return box

    def load_demo_data(self) -> None:
        """Admin: add invented referrals so a newcomer sees a working queue (never among real referrals)."""
        if self.context.session is None or not self.context.may(LOAD_DEMO):
            return
        if not Messages.confirm(
            self.window,
            "Load demo data",
            f"Add {DEMO_COUNT} invented referrals (test-range NHS numbers 999 000 0000-999 999 9999) to this "
            "database? Use this on a trial database, not on the unit's live queue.",
        ):
            return
        from triage_app.services.demo import load_demo

        def op(session: AppSession) -> DemoLoaded:  # its Changes are EVERYTHING: every view reloads
            from triage_app.services.app import local_today

            return load_demo(
                session.db, actor=session.actor, rules=session.rules, as_of=local_today(), count=DEMO_COUNT
            )

        self.context.run(op, title="Demo data not loaded")

    def backup_now(self) -> None:
        """Take an online backup and say where it went."""
        if self.context.session is None:
            return
        from triage_app.services.maintenance import take_verified_backup

        backup_dir = self.context.paths.backup_dir
        self.context.query(
            lambda session: take_verified_backup(session.db, actor=session.actor, backup_dir=backup_dir),
            title="Backup failed",
            on_success=self._backed_up,
        )

    def _backed_up(self, backup: Any) -> None:
        """A short status line (its full text as the tooltip), and the whole report in a message box."""
        text = (
            f"Backed up to {backup.path.name}\nin the folder {backup.path.parent}\n\n"
            f"Verified: {backup.describe_verification()}; SHA-256 {backup.entry.sha256[:16]}… recorded in the "
            "backups folder's manifest."
        )
        self._status(f"Backed up: {backup.path.name}", 15_000)
        self.window.statusBar().setToolTip(text)
        problem = backup.entry.audit_problem
        if problem is not None:  # kept (never lose data) but marked: said as a warning, not a plain report
            Messages.error(
                self.window,
                "Backup taken: the audit trail did not verify",
                f"{text}\n\nThe audit trail did not verify: {problem}. The backup was kept and marked; it is never "
                "offered for a restore. Tell the unit's administrator; `triage-app audit verify` shows every problem.",
            )
            return
        self.show_report("Backup taken", text)

    @staticmethod
    def choose_backup_file(parent: QWidget, folder: Path) -> Path | None:
        """Ask which backup to restore; None when the user cancels."""
        from PySide6.QtWidgets import QFileDialog

        name, _ = QFileDialog.getOpenFileName(
            parent, "Restore a backup", str(folder), "Triage database backups (*.sqlite3)"
        )
        return Path(name) if name else None

    def restore_backup(self) -> None:
        """Administrators, on a damaged database: put the newest verified backup (or a chosen one) in its place.

        The damaged file and its -wal/-shm are kept aside (services.maintenance); the window's own connections are
        closed first (a restore refuses while anyone has the database open), and the database is opened again
        afterwards, so the banner goes when the restored database is sound.
        """
        from triage_app.storage.engine import parse_database_url

        paths, session = self.context.paths, self.context.session
        if session is not None:
            if not self.context.may(RESTORE_BACKUP):
                return
            backup = session.newest_backup or self.choose_backup_file(self.window, paths.backup_dir)
            login, what = session.actor.login, "the damaged database"
        else:  # no session: the file is missing or empty; the backup's administrators restore (restore_offer)
            offer = self.lost_offer
            if offer is None or not offer.may_restore:
                return
            lost = parse_database_url(paths.db_url).path
            what = "the empty database file" if lost is not None and lost.exists() else "the missing database file"
            backup, login = offer.backup, offer.login
        if backup is None:
            return
        from triage_app.services.maintenance import restore_backup, restore_question

        location, backup_dir = parse_database_url(paths.db_url), paths.backup_dir
        if location.path is None:
            return
        self.restore_asked = restore_question(location.path, backup, backup_dir=backup_dir, replacing=what)
        if not Messages.confirm(self.window, "Restore a backup", self.restore_asked):
            return

        def task() -> Any:
            if session is not None:
                session.db.dispose()  # our own connections would make the restore refuse ("in use")
            return restore_backup(location, backup, login=login, backup_dir=backup_dir)

        def restored(report: Any) -> None:
            self._status(f"Restored {report.backup.name}: opening it again", 30_000)
            self.show_report("Backup restored", restore_report_text(report))
            if self.context.session is not None:
                self.context.session.close()
            self.context.set_session(None)
            self.lost_offer = None
            self._reopen()  # reopened: checked again, and writable if the restored database is sound

        # Not an op: with no session (a lost file) there is nothing to hand one, and the session is replaced.
        self.context.worker.submit(
            task, restored, lambda error: self.context.report_failure("The backup was not restored", error)
        )

    def offer_restore(self, error: BaseException, banner: ReadOnlyBanner, restore_action: QAction) -> None:
        """A missing or emptied database file: the banner says so, and, once the backups have been read on the
        worker, offers File > Restore a backup… to an administrator of the newest verified backup."""
        from triage_app.services.app import restore_offer

        banner.show_lost(error)
        paths, login = self.context.paths, self._login

        def offered(offer: Any) -> None:
            self.lost_offer = offer
            banner.show_lost(error, offer)
            restore_action.setEnabled(offer.may_restore)
            restore_action.setToolTip(
                f"Put {offer.backup.name} in place of the lost database file"
                if offer.may_restore
                else f"Offered to administrators of the newest verified backup ({offer.why_not})"
            )

        self.context.worker.submit(  # not a query: there is no session to hand it, the file is missing
            lambda: restore_offer(paths.db_url, backup_dir=paths.backup_dir, login=login),
            offered,
            lambda exc: log.error("the backups could not be read for a restore: %s", type(exc).__name__),
        )

    def daily_backup(self, session: AppSession) -> None:
        """The work a start leaves for after the first page, each on a worker of its own: never on the path to the
        window. First the reassessment of referrals assessed by other rules than those in force (a rules change:
        progress bar and Cancel in the status bar), then the day's verified backup.

        A large database takes a while to copy and check; on its own worker the queue and the panel stay
        responsive meanwhile. Never for a database open read-only.
        """
        if session.read_only is not None:
            return
        # Queued behind the first page and the counts on the window's worker: the background work starts once
        # they have been read, so it never competes with the first paint.
        # The file's quick check first (ui.page_check): the reassessment and the backup begin once it has passed.
        self.context.worker.submit(lambda: None, lambda _none: self.page_check.start(session, self._after_first_page))

    def _after_first_page(self, session: AppSession) -> None:
        if self.context.session is not session:
            return  # replaced (a restore) or closed meanwhile
        self.reassessment.start(session)
        from triage_app.services.app import daily_backup, daily_backup_due

        db, backup_dir = session.db, self.context.paths.backup_dir
        if self.daily is None:
            self.daily = DbWorker(self)
        stop = self.daily_stop = StopSignal()

        def task() -> Any:
            if daily_backup_due(db, backup_dir):
                self._say_started.emit()  # "Backing up…", queued to the GUI thread
            return daily_backup(db, backup_dir, stop=stop)

        def done(target: Any) -> None:
            from triage_app.services.app import backup_audit_problem

            if target is None:
                if self.daily_state == "Backing up…":
                    self._daily_status("No backup was due: another was under way", 10_000)
                return
            problem = backup_audit_problem(backup_dir, target)
            if problem is None:
                self._daily_status(f"Today's backup taken at {_clock()}: {target.name}", 10_000)
                return
            # The daily backup is the app's daily look at the audit trail: a problem is said, not only logged.
            self._status("The audit trail did not verify: see the message", 60_000)
            Messages.error(
                self.window,
                "The audit trail did not verify",
                f"Today's backup found a problem with the audit trail: {problem}.\n\nThe backup {target.name} was "
                "kept and marked. Tell the unit's administrator; `triage-app audit verify` shows every problem.",
            )

        def failed(error: BaseException) -> None:
            if isinstance(error, Stopped):
                log.info("daily backup stopped; nothing was recorded")
                self._daily_status(f"Today's backup stopped at {_clock()}: nothing was recorded", 60_000)
                return
            log.error("daily backup failed: %s", type(error).__name__)
            self._daily_status(f"Today's backup could not be taken: {error}", 60_000)

        daily = self.daily
        self.reassessment.when_idle(lambda: daily.submit(task, done, failed))  # one long job at a time

    def _daily_status(self, text: str, timeout: int) -> None:
        self.daily_state = text
        self._status(text, timeout)

    def _on_started(self) -> None:
        self._daily_status("Backing up…", 0)

    def stop_daily_backup(self) -> None:
        """Stop a daily backup under way (it deletes its partial file and records nothing)."""
        if self.daily_stop is not None:
            self.daily_stop.stop()

    def shutdown(self) -> None:
        """Closing: a daily backup under way is stopped (within a second) and its thread joined.

        It stops between its steps or has its check interrupted, deletes its partial file and records nothing:
        no file is left that looks like a good backup, and tomorrow's start (or the next) takes the backup again.
        """
        self.page_check.shutdown()
        self.stop_daily_backup()
        if self.reassessment.stop_signal is not None:  # both stop at once; then each is joined
            self.reassessment.stop_signal.stop()
        if self.daily is not None:
            self.daily.shutdown()
        self.reassessment.shutdown()


def restore_report_text(report: Any) -> str:
    """The whole of a restore's report (services.maintenance.RestoreReport), for its message box."""
    when = report.taken_at.strftime("%Y-%m-%d %H:%M UTC") if report.taken_at is not None else "not in the manifest"
    from triage_app.storage.integrity import describe_counts

    kept = (
        f"The replaced files were kept in {report.replaced_dir}: {', '.join(p.name for p in report.moved)}."
        if report.replaced_dir is not None
        else "Nothing was kept aside: there was no database file."
    )
    verified = "its SHA-256 matches the manifest" if report.listed else "not in the manifest: fully checked now"
    return (
        f"Restored the backup {report.backup.name}\ntaken {when}: {describe_counts(report.row_counts)}.\n\n"
        f"Verified: integrity ok; {verified}; schema {report.schema_revision}.\n"
        f"{kept}\n"
        f"Administrator checked in {report.authorized_in}.\n"
        f"The restore is recorded in the audit trail; {report.checkpoint}."
    )
