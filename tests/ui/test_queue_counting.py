"""The queue paints a view's first page before counting it (issue 14 item 4, issue 12 item 6).

Until the count arrives the window says "Counting…", never a number; a count (or a page) of a view the user has
left is never shown (H04); the count comes with the first page read again in one transaction, so the rows shown
and the number beside them always agree. The worker below runs each job only when the test says, so a filter can
change while a count is in flight. Then the "not yet reassessed" marker, on a real window while the background
reassessment runs (H05).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from sqlalchemy import select
from sqlmodel import col

from tests.factories import AS_OF, referral
from tests.ui.test_background_work import BATCH, NEW_VERSION, Pacer, _with_demo, paced  # noqa: F401  # a fixture
from triage_app.domain.rules import Rules
from triage_app.domain.workflow import TRIAGEABLE
from triage_app.services.queue import QueueFilter
from triage_app.services.reassessment import count_stale
from triage_app.services.referrals import register_referral
from triage_app.services.rules import approve_rules, rules_in_force
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.storage.models import AssessmentRow, ReferralRow
from triage_app.ui.main_window import MainWindow
from triage_app.ui.queue_columns import NOT_REASSESSED_TEXT
from triage_app.ui.queue_model import COL_OUTCOME, ID_ROLE, PAGE_SIZE, QueueTableModel, QueueView


class HeldWorker:
    """Queues each job; `run_next` runs the oldest one on this thread and hands back its result."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[[], Any], Any, Any]] = []
        self.pending = 0

    def submit(self, task: Callable[[], Any], on_done: Any = None, on_error: Any = None) -> None:
        self.jobs.append((task, on_done, on_error))

    def run_next(self) -> None:
        task, on_done, _on_error = self.jobs.pop(0)
        result = task()
        if on_done is not None:
            on_done(result)

    def run_all(self) -> None:
        while self.jobs:
            self.run_next()


class Seen:
    """What the model said: the counts it reported and whether it said it was counting."""

    def __init__(self, model: QueueTableModel) -> None:
        self.counts: list[int] = []
        self.counting = 0
        model.loaded.connect(self.counts.append)
        model.counting.connect(self._counting)

    def _counting(self) -> None:
        self.counting += 1


def add(db: Database, actor: Actor, rules: Rules, serial: int, **changes: Any) -> int:
    return register_referral(
        db, actor=actor, referral=referral(serial, as_of=AS_OF, **changes), rules=rules, as_of=AS_OF
    ).referral_id


def model_on(db: Database) -> tuple[QueueTableModel, HeldWorker, Seen]:
    worker = HeldWorker()
    model = QueueTableModel(worker, lambda: db, today=lambda: AS_OF, warning_weeks=lambda: 12)  # type: ignore[arg-type]
    return model, worker, Seen(model)


def shown_ids(model: QueueTableModel) -> list[int]:
    return [model.data(model.index(row, 0), ID_ROLE) for row in range(model.rowCount())]


@pytest.fixture
def big_queue(db: Database, admin: Actor, rules: Rules) -> Database:
    """More referrals than a page: the first page alone does not tell how many the view holds."""
    from triage_app.services.demo import load_demo

    load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=PAGE_SIZE + 40)
    return db


@pytest.mark.hazard("H04")
@pytest.mark.hazard("H08")
def test_the_first_page_shows_before_the_count_and_no_number_is_given_until_it_is_counted(
    qtbot: Any, big_queue: Database
) -> None:
    model, worker, seen = model_on(big_queue)
    model.load(QueueView(QueueFilter()))
    worker.run_next()  # the first page
    assert model.rowCount() == PAGE_SIZE and not model.counted and not model.all_ids_known
    assert seen.counting == 1 and seen.counts == []  # "Counting…", no number
    priorities = [model.queue_row(row).priority for row in range(PAGE_SIZE)]
    assert priorities == sorted(priorities, reverse=True)  # the page is the top of the queue, in order (H08)
    first = shown_ids(model)
    worker.run_next()  # the count, with the first page read again
    assert seen.counts == [PAGE_SIZE + 40] and model.counted
    assert model.rowCount() == PAGE_SIZE + 40 and shown_ids(model)[:PAGE_SIZE] == first
    worker.run_all()  # every id
    assert model.all_ids_known and len(set(shown_ids(model))) == PAGE_SIZE + 40


@pytest.mark.hazard("H04")
def test_a_filter_changed_while_the_count_is_in_flight_never_shows_the_old_views_count_or_rows(
    qtbot: Any, big_queue: Database, admin: Actor, rules: Rules
) -> None:
    model, worker, seen = model_on(big_queue)
    model.load(QueueView(QueueFilter()))
    worker.run_next()  # the whole queue's first page is shown; its count is queued
    assert len(worker.jobs) == 1
    narrow = QueueFilter(status="closed")  # a view holding none of them
    model.load(QueueView(narrow))
    worker.run_all()  # the whole queue's count arrives after the filter changed, then the new view's page
    assert seen.counts == [0]  # only the new view's count was ever given: not PAGE_SIZE + 40
    assert model.rowCount() == 0 and model.counted and model.all_ids_known
    # And back, then to a filter holding some, each count given only with its own rows.
    model.load(QueueView(QueueFilter()))
    worker.run_next()
    model.load(QueueView(QueueFilter(outcome="ready_for_mdt")))
    worker.run_all()
    with big_queue.read() as session:
        ready = set(
            session.execute(select(col(ReferralRow.id)).where(col(ReferralRow.queue_outcome) == "ready_for_mdt"))
            .scalars()
            .all()
        )
    assert seen.counts[-1] == len(ready) == model.rowCount()
    assert set(shown_ids(model)) == ready
    assert PAGE_SIZE + 40 not in seen.counts


@pytest.mark.hazard("H04")
@pytest.mark.hazard("H08")
def test_a_referral_added_between_the_page_and_the_count_shows_the_page_as_it_is_now(
    qtbot: Any, big_queue: Database, admin: Actor, rules: Rules
) -> None:
    model, worker, seen = model_on(big_queue)
    model.load(QueueView(QueueFilter()))
    worker.run_next()
    before = shown_ids(model)
    # Another desktop registers a referral that heads the queue before this one counts it.
    newcomer = add(
        big_queue, admin, rules, 900, received_on="2025-01-06", severity__twstrs_total=85, severity__twstrs_pain=20
    )
    with big_queue.read() as session:
        top = session.execute(select(col(ReferralRow.priority)).where(col(ReferralRow.id) == newcomer)).scalar_one()
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    worker.run_all()
    assert seen.counts[-1] == model.rowCount() == PAGE_SIZE + 41  # the count of the page shown with it
    ids = shown_ids(model)
    assert newcomer in ids and len(set(ids)) == len(ids)
    if top is not None and top >= model.queue_row(PAGE_SIZE - 1).priority:
        assert resets and ids[:PAGE_SIZE] != before  # the page changed: shown again, as it is now
    priorities = [model.queue_row(row).priority for row in range(PAGE_SIZE)]
    assert priorities == sorted(priorities, reverse=True)


def test_a_short_view_is_counted_with_its_page(qtbot: Any, db: Database, admin: Actor, rules: Rules) -> None:
    for serial in (1, 2, 3):
        add(db, admin, rules, serial)
    model, worker, seen = model_on(db)
    model.load(QueueView(QueueFilter()))
    worker.run_next()
    assert not worker.jobs  # three rows: the page is the whole view, nothing more to read
    assert seen.counts == [3] and seen.counting == 0 and model.all_ids_known


@pytest.mark.hazard("H04")
def test_the_window_says_counting_never_an_old_count_beside_a_new_views_rows(
    qtbot: Any, gui_db: Database, rules: Rules, open_window: Callable[..., MainWindow]
) -> None:
    from triage_app.services.demo import load_demo
    from triage_app.services.users import sign_in

    admin = sign_in(gui_db, login="admin-test")
    load_demo(gui_db, actor=admin, rules=rules, as_of=AS_OF, count=PAGE_SIZE + 60)
    window = open_window()
    assert window.count_label.text() == f"{PAGE_SIZE + 60:,} referrals shown"
    wrong: list[str] = []

    def check() -> None:  # after each change of the table, before anything paints it
        text = window.count_label.text()
        if text == "Counting…":
            return
        if (
            not window.model.counted
            or text != f"{window.model.total:,} referral{'' if window.model.total == 1 else 's'} shown"
        ):
            wrong.append(f"{text} beside {window.model.rowCount()} rows (counted: {window.model.counted})")

    window.model.modelReset.connect(lambda: QTimer.singleShot(0, check))
    window.model.rowsInserted.connect(lambda *_a: QTimer.singleShot(0, check))
    seen_counting: list[str] = []
    window.model.counting.connect(lambda: QTimer.singleShot(0, lambda: seen_counting.append(window.count_label.text())))
    queue = window.queue
    for index in (2, 0, 3, 0):  # outcome filters and back to the whole queue, one after another, unawaited
        queue.outcome_filter.setCurrentIndex(index)
    qtbot.waitUntil(lambda: window.model.all_ids_known and window.worker.pending == 0, timeout=20_000)
    assert not wrong, wrong
    assert "Counting…" in seen_counting  # the whole queue is more than a page: it was counted after its page
    assert window.count_label.text() == f"{PAGE_SIZE + 60:,} referrals shown"
    assert window.model.rowCount() == PAGE_SIZE + 60


# --- the "not yet reassessed" marker ----------------------------------------------------------------------------


def _versions(db: Database) -> dict[int, tuple[str | None, str, int | None]]:
    """Each referral's (assessment's rules version, status, meeting id), as stored now."""
    with db.read() as session:
        rows = session.execute(
            select(
                col(ReferralRow.id),
                col(AssessmentRow.rules_version),
                col(ReferralRow.status),
                col(ReferralRow.meeting_id),
            ).join(AssessmentRow, col(AssessmentRow.id) == col(ReferralRow.current_assessment_id), isouter=True)
        ).all()
    return {rid: (version, status, meeting) for rid, version, status, meeting in rows}


def _marked(window: MainWindow) -> dict[int, bool]:
    model = window.model
    marks = {}
    for row in range(model.rowCount()):
        index = model.index(row, COL_OUTCOME)
        marks[model.data(index, ID_ROLE)] = model.data(index, Qt.ItemDataRole.DecorationRole) is not None
    return marks


@pytest.mark.hazard("H05")
def test_rows_not_yet_reassessed_carry_the_marker_until_their_batch_is_done(
    qtbot: Any,
    gui_db: Database,
    rules: Rules,
    open_window: Callable[..., MainWindow],
    paced: Pacer,  # noqa: F811
) -> None:
    count = 5 * BATCH
    admin = _with_demo(gui_db, count)
    # Newer rules approved elsewhere (the approval only): this start reassesses every open referral in batches.
    approve_rules(gui_db, actor=admin, proposed=_edited(), as_of=AS_OF, reassess=False)
    in_force = rules_in_force(gui_db).rules.version
    assert in_force == NEW_VERSION
    window = open_window()
    job = window.maintenance_actions.reassessment
    assert job.running
    qtbot.waitUntil(lambda: job.bar.value() >= BATCH, timeout=20_000)  # one batch done; the next waits
    qtbot.waitUntil(lambda: window.model.all_ids_known and window.worker.pending == 0, timeout=10_000)

    def expected() -> dict[int, bool]:
        stored = _versions(gui_db)
        return {
            rid: version is not None and version != in_force and status in TRIAGEABLE and meeting is None
            for rid, (version, status, meeting) in stored.items()
            if rid in _marked(window)
        }

    qtbot.waitUntil(lambda: _marked(window) == expected(), timeout=10_000)
    marks = _marked(window)
    assert 0 < sum(marks.values()) < len(marks), "some rows reassessed, some still waiting"
    waiting = next(rid for rid, marked in marks.items() if marked)
    row = window.model.row_of(waiting)
    assert row is not None
    index = window.model.index(row, COL_OUTCOME)
    assert window.model.data(index, Qt.ItemDataRole.ToolTipRole).startswith(NOT_REASSESSED_TEXT)
    assert "not yet reassessed" in window.model.data(index, Qt.ItemDataRole.AccessibleTextRole)
    done = next(rid for rid, marked in marks.items() if not marked)
    done_index = window.model.index(window.model.row_of(done) or 0, COL_OUTCOME)
    assert not (window.model.data(done_index, Qt.ItemDataRole.ToolTipRole) or "").startswith(NOT_REASSESSED_TEXT)

    paced.release()  # the rest of the batches; each refreshes the queue through the Changes broadcast
    qtbot.waitUntil(lambda: not job.running, timeout=30_000)
    assert count_stale(gui_db, rules=rules_in_force(gui_db).rules) == 0
    qtbot.waitUntil(lambda: not any(_marked(window).values()), timeout=10_000)
    assert window.model.rowCount() == count


def _edited() -> Any:
    from tests.services.test_rules_governance import edited

    return edited(NEW_VERSION)
