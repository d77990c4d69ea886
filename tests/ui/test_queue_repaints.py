"""What the queue repaints when a view's ids arrive: the rows shown blank ("…") before they were known, and nothing
when none was (Qt repaints the whole table for a range of rows, so a needless range costs a full repaint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import AS_OF
from tests.ui.test_queue_model import Recorder
from triage_app.domain.rules import Rules
from triage_app.services.queue import QueueFilter
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.ui.queue_model import LOADING_TEXT, PAGE_SIZE, QueueTableModel, QueueView

COUNT = PAGE_SIZE + 20


class StepWorker:
    """Holds each job until the test runs it, so the test can look between a view's page, count and ids."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[[], Any], Callable[[Any], None] | None]] = []
        self.pending = 0

    def submit(
        self,
        task: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.jobs.append((task, on_done))

    def run_next(self) -> None:
        task, on_done = self.jobs.pop(0)
        result = task()
        if on_done is not None:
            on_done(result)


@pytest.fixture
def counted(db: Database, admin: Actor, rules: Rules) -> tuple[QueueTableModel, StepWorker, Recorder]:
    """A view of more referrals than a page, counted, its ids not yet read."""
    from triage_app.services.demo import load_demo

    load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=COUNT)
    worker = StepWorker()
    model = QueueTableModel(worker, lambda: db, today=lambda: AS_OF, warning_weeks=lambda: 12)  # type: ignore[arg-type]
    model.load(QueueView(QueueFilter()))
    worker.run_next()  # the first page
    assert not model.counted and model.rowCount() == PAGE_SIZE
    worker.run_next()  # the count (no table to wait for a paint of)
    assert model.counted and model.rowCount() == COUNT and not model.all_ids_known
    return model, worker, Recorder(model)


@pytest.mark.hazard("H04")
def test_a_row_shown_blank_before_its_id_is_known_is_repainted_when_the_ids_arrive(
    counted: tuple[QueueTableModel, StepWorker, Recorder],
) -> None:
    model, worker, recorder = counted
    assert model.data(model.index(PAGE_SIZE + 5, 0)) == LOADING_TEXT  # scrolled below the first page: "…"
    worker.run_next()  # every id of the view
    assert model.all_ids_known
    assert set(range(PAGE_SIZE, COUNT)) <= set(recorder.repainted)  # no row stays "…" (H04)


def test_nothing_is_repainted_when_the_ids_arrive_if_no_row_was_shown_blank(
    counted: tuple[QueueTableModel, StepWorker, Recorder],
) -> None:
    model, worker, recorder = counted
    for row in range(30):  # the screen: rows of the first page, all known
        assert model.data(model.index(row, 0)) not in (None, LOADING_TEXT)
    worker.run_next()
    assert model.all_ids_known and recorder.repainted == [] and recorder.resets == 0
