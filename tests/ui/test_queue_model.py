"""The queue's table model on its own, with no window (as Vorta tests its archive table model).

A worker that runs each job at once stands in for the background thread; the database is a real SQLite file. What
is under test is what the model does with a `Changes` report: repaint the named rows in place when the view's
membership and order cannot have changed, reload (reset) when they may have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services.changes import EVERYTHING, referrals_changed
from triage_app.services.queue import QueueFilter
from triage_app.services.referrals import get_referral, register_referral, update_referral
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.ui.queue_model import COL_NAME, PAGE_SIZE, QueueTableModel, QueueView


class ImmediateWorker:
    """Runs each job on the spot, on this thread, and hands its result or error straight back."""

    def __init__(self) -> None:
        self.submitted = 0
        self.pending = 0

    def submit(
        self,
        task: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.submitted += 1
        try:
            result = task()
        except Exception as error:  # handed to the model, as the real worker does
            if on_error is None:
                raise
            on_error(error)
            return
        if on_done is not None:
            on_done(result)


class Recorder:
    """Counts the model's resets and collects the rows it repainted in place."""

    def __init__(self, model: QueueTableModel) -> None:
        self.resets = 0
        self.repainted: list[int] = []
        model.modelReset.connect(self._reset)
        model.dataChanged.connect(self._changed)

    def _reset(self) -> None:
        self.resets += 1

    def _changed(self, first: QModelIndex, last: QModelIndex, _roles: Any = ()) -> None:
        self.repainted.extend(range(first.row(), last.row() + 1))

    def clear(self) -> None:
        self.resets = 0
        self.repainted.clear()


@pytest.fixture
def register(db: Database, admin: Actor, rules: Rules) -> Callable[..., int]:
    def add(serial: int, **changes: Any) -> int:
        return register_referral(
            db, actor=admin, referral=referral(serial, as_of=AS_OF, **changes), rules=rules, as_of=AS_OF
        ).referral_id

    return add


@pytest.fixture
def edit(db: Database, admin: Actor, rules: Rules) -> Callable[..., Any]:
    """Store `changes` on a referral (its serial keeps its NHS number); returns the service's `Changes`."""

    def change(referral_id: int, serial: int, **changes: Any) -> Any:
        version = get_referral(db, referral_id=referral_id).row.version
        saved = update_referral(
            db,
            actor=admin,
            referral_id=referral_id,
            expected_version=version,
            referral=referral(serial, as_of=AS_OF, **changes),
            rules=rules,
            as_of=AS_OF,
            demographics_confirmed=True,  # a renamed patient is confirmed, as the form asks the user to
        )
        return saved.changes

    return change


def make_model(qtbot: Any, db: Database, queue_filter: QueueFilter | None = None) -> tuple[QueueTableModel, Any]:
    worker = ImmediateWorker()
    model = QueueTableModel(worker, lambda: db, today=lambda: AS_OF, warning_weeks=lambda: 12)  # type: ignore[arg-type]
    model.load(QueueView(queue_filter or QueueFilter()))
    return model, worker


def names(model: QueueTableModel) -> list[str]:
    return [model.data(model.index(row, COL_NAME)) for row in range(model.rowCount())]


def test_a_view_loads_its_first_page_then_every_id_and_pages_in_as_rows_are_shown(
    qtbot: Any, db: Database, admin: Actor, rules: Rules
) -> None:
    from triage_app.services.demo import load_demo

    load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=PAGE_SIZE + 30)
    model, worker = make_model(qtbot, db)
    assert model.total == model.rowCount() == PAGE_SIZE + 30
    assert model.all_ids_known  # the first page, its count, then every id: three jobs, run at once here
    assert worker.submitted == 3
    assert model.queue_row(0) is not None and model.queue_row(PAGE_SIZE + 5) is None  # second page not read yet
    model.data(model.index(PAGE_SIZE + 5, COL_NAME))  # the view asks for a row of the second page
    assert worker.submitted == 4 and model.queue_row(PAGE_SIZE + 5) is not None
    priorities = [model.queue_row(row).priority for row in range(model.rowCount()) if model.queue_row(row)]
    assert priorities == sorted(priorities, key=lambda p: -1 if p is None else p, reverse=True)


@pytest.mark.hazard("H04")
def test_an_edit_that_keeps_membership_and_order_repaints_its_row_without_a_reset(
    qtbot: Any, db: Database, register: Callable[..., int], edit: Callable[..., Any]
) -> None:
    ids = [register(serial) for serial in (1, 2, 3)]
    model, worker = make_model(qtbot, db)
    recorder = Recorder(model)
    row = model.row_of(ids[1])
    assert row is not None
    changes = edit(ids[1], 2, patient__hospital_number="K0099999")  # neither the filter nor the priority sees it
    submitted = worker.submitted
    model.apply_changes(changes)
    assert worker.submitted == submitted + 1  # one job: the named rows and which of them the view holds
    assert recorder.resets == 0 and recorder.repainted == [row]
    assert model.queue_row(row).hospital_number == "K0099999"
    assert model.data(model.index(row, COL_NAME), Qt.ItemDataRole.ToolTipRole) == "Hospital number K0099999"


@pytest.mark.hazard("H04")
def test_a_row_that_leaves_or_joins_the_view_resets_it(
    qtbot: Any, db: Database, register: Callable[..., int], edit: Callable[..., Any]
) -> None:
    inside = register(1)
    outside = register(2, patient__family_name="Ashdown")
    model, _worker = make_model(qtbot, db, QueueFilter(search="Quillfeather"))
    recorder = Recorder(model)
    assert model.row_of(inside) is not None and model.row_of(outside) is None

    model.apply_changes(edit(inside, 1, patient__family_name="Brackenridge"))  # no longer found by the search
    assert recorder.resets == 1 and model.row_of(inside) is None and model.total == 0

    recorder.clear()
    model.apply_changes(edit(outside, 2, patient__family_name="Quillfeather"))  # now found by it
    assert recorder.resets == 1 and model.row_of(outside) is not None and model.total == 1


@pytest.mark.hazard("H08")
def test_a_changed_sort_key_resets_the_view_so_the_order_stays_true(
    qtbot: Any, db: Database, register: Callable[..., int], edit: Callable[..., Any]
) -> None:
    first, second = register(1), register(2, severity__twstrs_total=20, severity__twstrs_pain=2)
    model, _worker = make_model(qtbot, db)
    assert model.row_of(first) == 0 and model.row_of(second) == 1  # by priority, highest first
    recorder = Recorder(model)
    before = model.queue_row(0).priority
    model.apply_changes(edit(first, 1, severity__twstrs_total=10, severity__twstrs_pain=0))
    assert recorder.resets == 1
    assert model.row_of(second) == 0 and model.queue_row(1).priority < before


def test_a_created_referral_or_everything_reloads_and_a_change_outside_the_view_reads_once(
    qtbot: Any, db: Database, register: Callable[..., int], edit: Callable[..., Any]
) -> None:
    shown = register(1)
    hidden = register(2, patient__family_name="Ashdown")
    model, worker = make_model(qtbot, db, QueueFilter(search="Quillfeather"))
    recorder = Recorder(model)

    model.apply_changes(
        edit(hidden, 2, patient__family_name="Ashdown", patient__hospital_number="K0055555")
    )  # still outside the view
    assert recorder.resets == 0 and recorder.repainted == []

    created = register(3)
    model.apply_changes(referrals_changed(created, created=True))
    assert recorder.resets == 1 and model.row_of(created) is not None

    recorder.clear()
    model.apply_changes(EVERYTHING)
    assert recorder.resets == 1 and model.row_of(shown) is not None
    assert worker.submitted > 0


@pytest.mark.hazard("H05")
@pytest.mark.hazard("H07")
def test_a_painted_cell_shows_what_the_model_says_of_it(qtbot: Any, db: Database, admin: Actor, rules: Rules) -> None:
    """The delegate reads each cell through `multiData` (one call for its seven roles): the text, alignment, the
    18-week band's colour and the not-yet-reassessed marker it paints are those `data` gives role by role."""
    from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

    from triage_app.services.demo import load_demo

    load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=40)
    worker = ImmediateWorker()
    model = QueueTableModel(
        worker,  # type: ignore[arg-type]
        lambda: db,
        today=lambda: AS_OF,
        warning_weeks=lambda: 12,
        rules_version=lambda: "spd-2099.1",  # rules other than those the demo was assessed with
    )
    model.load(QueueView(QueueFilter()))
    delegate = QStyledItemDelegate()
    banded = marked = 0
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            option = QStyleOptionViewItem()
            delegate.initStyleOption(option, index)
            assert option.text == (model.data(index) or "")
            alignment = model.data(index, Qt.ItemDataRole.TextAlignmentRole)
            if alignment is not None:
                assert int(option.displayAlignment.value) == alignment
            band = model.data(index, Qt.ItemDataRole.BackgroundRole)
            if band is not None:
                banded += 1
                assert option.backgroundBrush.color() == band.color()
            icon = model.data(index, Qt.ItemDataRole.DecorationRole)
            assert option.icon.isNull() == (icon is None), (row, column, model.data(index))
            marked += icon is not None
    assert banded and marked  # the demo waits long enough for bands; its open referrals await the new rules
    import sys

    before = sys.getrefcount(
        None
    )  # painting many cells through multiData loses no reference (see test_pyside_refcount)
    for _ in range(50):
        for row in range(model.rowCount()):
            for column in range(model.columnCount()):
                delegate.initStyleOption(QStyleOptionViewItem(), model.index(row, column))
    assert before - sys.getrefcount(None) < 100  # the binding's defect would lose one for each of 20,000 cells
