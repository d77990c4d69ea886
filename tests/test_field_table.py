"""Adding a referral field is the table of fields (domain.fields), a migration and a test.

Throwaway fields are added to the table by a fixture (tests/throwaway_fields.py) and taken away again;
nothing else is edited, yet they reach the form (a widget in its section, a value round-tripped) and storage
(stored and read back on a real SQLite file once the test adds the columns as a migration would). The parser's
part is in tests/domain/test_field_table.py. The form is also held to one parse per save and one score per edit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from tests.factories import AS_OF, referral_json
from tests.throwaway_fields import DONE_ON, MODALITY, REPORT, THROWAWAY, throwaway_fields, with_new_fields  # noqa: F401
from triage_app.domain import fields as table
from triage_app.domain.parsing import parse_referral
from triage_app.domain.referral import Referral
from triage_app.domain.rules import Rules
from triage_app.services.referrals import get_referral, import_referrals, register_referral, update_referral
from triage_app.services.users import Actor
from triage_app.storage.engine import Database
from triage_app.storage.models import ReferralRow
from triage_app.storage.referral_fields import column_types


def test_every_field_has_its_column_on_the_model() -> None:
    declared: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]
    for spec in table.referral_fields():
        for name, kind in column_types(spec).items():
            assert name in declared.c, f"{spec.path}: ReferralRow has no column {name}"
            assert declared.c[name].type._type_affinity is kind._type_affinity, name


@pytest.fixture
def form_class(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The form, closing without asking about unsaved changes (no dialog waits in a test)."""
    from PySide6.QtWidgets import QMessageBox

    from triage_app.ui.referral_form import ReferralForm

    monkeypatch.setattr(
        ReferralForm, "ask_unsaved", classmethod(lambda cls, parent: QMessageBox.StandardButton.Discard)
    )
    return ReferralForm


# --- form ------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("throwaway_fields")
def test_a_throwaway_field_gets_a_widget_in_its_section_and_round_trips(
    qtbot: Any, rules: Rules, form_class: Any
) -> None:
    form = form_class(rules=rules, as_of=AS_OF)
    qtbot.addWidget(form)
    titles = [box.title() for box in form.section_boxes]
    assert titles[-1] == "Imaging"  # a new section comes after the sections a clinician reads first
    assert form.section_boxes[titles.index("Severity")].isAncestorOf(form.fields["severity.neck_pain_days"].widget)
    imaging = form.section_boxes[-1]
    assert all(imaging.isAncestorOf(form.fields[s.path].widget) for s in (REPORT, MODALITY, DONE_ON))
    pain = form.fields["severity.neck_pain_days"]
    assert pain.widget.placeholderText() == "0-7"
    assert form.fields["imaging.report_ref"].widget.maxLength() == 12
    modality = form.fields["imaging.modality"].widget
    assert [modality.itemText(i) for i in range(1, modality.count())] == ["MRI", "Ct"]
    assert pain.widget.accessibleName() == "Days with neck pain a week"

    form.load(parse_referral(with_new_fields(), as_of=AS_OF))
    assert pain.widget.text() == "3" and modality.currentData() == "mri"
    assert form.fields["imaging.done_on"].widget.text() == "01-Oct-2026"
    assert form.parsed is not None and form.parsed.value("imaging.report_ref") == "IMG-0042"

    pain.widget.clear()
    qtbot.keyClicks(pain.widget, "9")
    form.validate()
    assert form.current_errors["severity.neck_pain_days"] == "9 is out of range: it must be from 0 to 7"
    assert form.errors["severity.neck_pain_days"].isVisibleTo(form)
    pain.widget.clear()
    qtbot.keyClicks(pain.widget, "5")
    sent: list[Referral] = []
    form.save_requested.connect(lambda referral, _rid, _ver: sent.append(referral))
    form.save()
    assert [r.value("severity.neck_pain_days") for r in sent] == [5]
    assert sent[0].value("imaging.done_on") == date(2026, 10, 1)


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Count the calls of `module.name` (the real function still runs)."""
    calls: list[int] = []
    real: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_the_form_parses_once_per_save_and_scores_once_per_edit(
    qtbot: Any, rules: Rules, monkeypatch: pytest.MonkeyPatch, form_class: Any
) -> None:
    from triage_app.ui import referral_form

    form = form_class(rules=rules, as_of=AS_OF, referral=parse_referral(referral_json(1), as_of=AS_OF))
    qtbot.addWidget(form)
    parses = _counting(monkeypatch, referral_form, "parse_referral")
    scores = _counting(monkeypatch, referral_form, "assess")
    sent: list[Referral] = []
    form.save_requested.connect(lambda referral, _rid, _ver: sent.append(referral))

    question = form.fields["clinical_question"].widget
    question.setFocus()
    qtbot.keyClicks(question, "Also DBS? ")  # ten keystrokes: one edit once the typing pauses
    qtbot.waitUntil(lambda: len(scores) == 1, timeout=2000)
    assert len(parses) == 1
    form.save()
    form.save_finished(7, 2)
    assert (len(parses), len(scores)) == (1, 1)  # the save sent what the edit's reading made
    assert "Also DBS?" in (sent[0].clinical_question or "")
    assert not form.dirty and form.status.text() == "Saved"

    qtbot.keyClicks(question, "!")
    form.save()  # saved before the pause: read now, once, and not again when the pause would have come
    qtbot.wait(250)
    assert (len(parses), len(scores)) == (2, 2) and "? !" in (sent[1].clinical_question or "")


# --- storage ---------------------------------------------------------------------------------------------------


def add_columns_as_the_migration_would(db: Database) -> None:
    """What the throwaway fields' Alembic revision would do: one nullable column per field (op.add_column)."""
    with db.engine.begin() as connection:
        op = Operations(MigrationContext.configure(connection))
        for spec in THROWAWAY:
            for name, kind in column_types(spec).items():
                op.add_column("referral", sa.Column(name, kind, nullable=True))


@pytest.mark.hazard("H03")
@pytest.mark.usefixtures("throwaway_fields")
def test_a_throwaway_field_is_stored_and_read_back_on_a_real_database(
    db: Database, db_url: str, admin: Actor, rules: Rules
) -> None:
    add_columns_as_the_migration_would(db)
    referral = parse_referral(with_new_fields(), as_of=AS_OF)
    saved = register_referral(db, actor=admin, referral=referral, rules=rules, as_of=AS_OF)
    detail = get_referral(db, referral_id=saved.referral_id)
    assert detail.referral == referral
    raw = sa.create_engine(db_url, poolclass=sa.pool.NullPool)  # another connection, in the columns the table names
    try:
        with raw.connect() as connection:
            stored = connection.execute(
                sa.text(
                    "SELECT neck_pain_days, imaging_report_ref, imaging_modality, imaging_done_on FROM referral "
                    "WHERE id = :id"
                ),
                {"id": saved.referral_id},
            ).one()
    finally:
        raw.dispose()
    # a date column: ISO text in a SQLite file, a DATE on a server
    assert (*stored[:3], str(stored[3])) == (3, "IMG-0042", "mri", "2026-10-01")

    edited = parse_referral(with_new_fields(neck_pain_days=0, modality=None), as_of=AS_OF)
    update_referral(
        db,
        actor=admin,
        referral_id=saved.referral_id,
        expected_version=saved.version,
        referral=edited,
        rules=rules,
        as_of=AS_OF,
    )
    again = get_referral(db, referral_id=saved.referral_id).referral
    assert again.value("severity.neck_pain_days") == 0 and again.value("imaging.modality") is None
    assert again == edited


@pytest.mark.usefixtures("throwaway_fields")
def test_an_imported_record_carries_a_throwaway_field_into_storage(db: Database, admin: Actor, rules: Rules) -> None:
    add_columns_as_the_migration_would(db)
    report = import_referrals(db, actor=admin, records=[with_new_fields(report_ref="IMG-7")], rules=rules, as_of=AS_OF)
    (result,) = report.results
    assert result.referral_id is not None
    assert get_referral(db, referral_id=result.referral_id).referral.value("imaging.report_ref") == "IMG-7"
