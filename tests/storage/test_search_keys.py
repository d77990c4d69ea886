"""The queue's search by name parts in any order and by NHS-number digits anywhere (schema 0011, storage.search_keys),
the same on SQLite and PostgreSQL; keys follow every write of a name or NHS number (H01: never the wrong patient,
H04: never a stale key), on the form's path, the demo's bulk path and the migration's backfill."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules
from triage_app.services.demo import load_demo
from triage_app.services.referrals import register_referral, update_referral
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import migrate
from triage_app.storage.queue import QueueFilter
from triage_app.storage.search_keys import name_parts, nhs_suffixes, search_key_rows

REPO = Path(__file__).resolve().parents[2]

#: (family, given, NHS number) of each patient: invented names, test-range numbers.
PATIENTS = {
    "quinnell": ("Quinnell Abara", "Marguerite", "9990004323"),
    "hyphen": ("Okonedo-Vasquez", "Tobias", "9991112227"),
    "given": ("Fenwick", "Quinnell", "9992223332"),  # a given name that is another patient's family name
    "oneill": ("O'Neill", "Saoirse", "9993334448"),
    "plain": ("Given", "Family", "9994445553"),
    "other": ("Family", "Given", "9995556669"),
}


def _store(db: Database, admin: Actor, rules: Rules) -> dict[str, int]:
    ids = {}
    for serial, (label, (family, given, nhs)) in enumerate(PATIENTS.items(), start=1):
        saved = register_referral(
            db,
            actor=admin,
            referral=referral(serial, patient__family_name=family, patient__given_name=given, patient__nhs_number=nhs),
            rules=rules,
            as_of=AS_OF,
        )
        ids[label] = saved.referral_id
    return ids


def _found(db: Database, typed: str) -> set[int]:
    view = QueueFilter(search=typed)
    with db.read() as session:
        ids = set(repo.queue_ids(session, queue_filter=view))
        assert repo.queue_count(session, view) == len(ids)
    return ids


@pytest.mark.hazard("H01")
@pytest.mark.parametrize(
    ("typed", "labels"),
    [
        ("Marguerite Quinnell", {"quinnell"}),
        ("Quinnell Abara", {"quinnell"}),
        ("abara", {"quinnell"}),
        ("QUINNELL, Marguerite", {"quinnell"}),
        ("Quinnell-Abara", {"quinnell"}),
        ("quinnell", {"quinnell", "given"}),  # a family name and another patient's given name
        ("QUINNELL,", {"quinnell"}),  # a comma: family names only
        ("Fenwick, Quinnell", {"given"}),
        ("Quinnell, Fenwick", set()),  # Fenwick is no one's given name
        ("vasquez", {"hyphen"}),
        ("Okonedo", {"hyphen"}),
        ("tobias okon", {"hyphen"}),
        ("oneill", {"oneill"}),
        ("o'neill", {"oneill"}),
        ("neill saoirse", {"oneill"}),
        ("Given Family", {"plain", "other"}),  # both orders are the same words: both patients
        ("GIVEN, Family", {"plain"}),
        ("FAMILY, Given", {"other"}),
        ("4323", {"quinnell"}),  # four digits anywhere in an NHS number
        ("0004323", {"quinnell"}),
        ("999 000 4323", {"quinnell"}),
        ("9990004323", {"quinnell"}),
        ("1222", {"hyphen"}),
        ("5553", {"plain"}),
        ("555", set()),  # three digits only match a number's start
        ("999", set(PATIENTS)),
        ("Marguerite Fenwick", set()),  # every word must match the same patient
        ("zz", set()),
    ],
)
def test_search_finds_by_any_name_part_and_nhs_digits(
    db: Database, admin: Actor, rules: Rules, typed: str, labels: set[str]
) -> None:
    ids = _store(db, admin, rules)
    assert _found(db, typed) == {ids[label] for label in labels}


@pytest.mark.hazard("H01")
@pytest.mark.hazard("H04")
def test_keys_follow_a_renamed_patient_and_a_corrected_nhs_number(db: Database, admin: Actor, rules: Rules) -> None:
    ids = _store(db, admin, rules)
    corrected = referral(
        1, patient__family_name="Brightwater", patient__given_name="Marguerite", patient__nhs_number="9996667774"
    )
    update_referral(
        db,
        actor=admin,
        referral_id=ids["quinnell"],
        expected_version=1,
        referral=corrected,
        rules=rules,
        as_of=AS_OF,
        demographics_confirmed=True,
    )
    assert _found(db, "abara") == set()  # the old name finds nothing
    assert _found(db, "4323") == set()  # nor the old number
    assert _found(db, "Marguerite Brightwater") == {ids["quinnell"]}
    assert _found(db, "6777") == {ids["quinnell"]}


def test_the_demo_bulk_path_writes_the_same_keys(db: Database, admin: Actor, rules: Rules) -> None:
    load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=30)
    with db.read() as session:
        connection = session.connection()
        stored = {
            tuple(row) for row in connection.execute(sa.text("SELECT key, kind, referral_id FROM referral_search_key"))
        }
        people = connection.execute(sa.text("SELECT id, family_name, given_name, nhs_number FROM referral")).all()
    expected = {(row["key"], row["kind"], row["referral_id"]) for person in people for row in search_key_rows(*person)}
    assert len(people) == 30
    assert stored == expected
    rid, family, given, nhs = people[7]
    assert rid in _found(db, f"{given} {family}")
    assert rid in _found(db, nhs[-5:])


@pytest.mark.sqlite_only
def test_the_migration_fills_keys_for_existing_referrals(tmp_path: Path) -> None:
    fixture = sorted((REPO / "db" / "fixtures").glob("schema-*.sqlite3"))[-1]
    path = tmp_path / "triage.sqlite3"
    shutil.copyfile(fixture, path)
    database = Database(parse_database_url(sqlite_url(path)))
    migrate(database, backup_dir=tmp_path / "backups")
    database.dispose()
    with sqlite3.connect(path) as connection:
        stored = set(connection.execute("SELECT key, kind, referral_id FROM referral_search_key"))
        people = connection.execute("SELECT id, family_name, given_name, nhs_number FROM referral").fetchall()
    expected = {(row["key"], row["kind"], row["referral_id"]) for person in people for row in search_key_rows(*person)}
    assert people and stored == expected  # the migration's copy of the rule is the app's rule


def test_name_parts_and_suffixes() -> None:
    assert name_parts("Quinnell-Abara") == ["QUINNELL", "ABARA"]
    assert name_parts("de  Vries") == ["DE", "VRIES"]
    assert name_parts("O\u2019Neill") == ["O'NEILL", "ONEILL", "O", "NEILL"]
    assert name_parts(None) == name_parts("  ") == []
    assert nhs_suffixes("9990004323") == ["990004323", "90004323", "0004323", "004323", "04323", "4323"]
    assert nhs_suffixes(None) == []
