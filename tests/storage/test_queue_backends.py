"""The queue's SQL gives the same answers on SQLite and PostgreSQL: every sort (an empty value is the lowest on
both: last when descending, first when ascending), pages of it, and a search that ignores case.

Runs on either backend (`pytest --backend=postgresql` gives `db` a server database); each expectation is worked
out here in Python, so both backends are held to the same answer. Names are compared by code point, as SQLite
does and as PostgreSQL does in a database whose collation is C (docs/deploy-postgresql.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from tests.factories import AS_OF, referral
from triage_app.domain.rules import Rules, read_rules_file, shipped_rules_path
from triage_app.services.audit import verify_audit_trail
from triage_app.services.demo import load_demo
from triage_app.services.referrals import register_referral
from triage_app.services.rules import ensure_rules_approved
from triage_app.services.users import Actor, sign_in
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database, parse_database_url
from triage_app.storage.migrate import migrate
from triage_app.storage.models import ReferralRow
from triage_app.storage.queue import SORT_COLUMNS, QueueFilter

#: (family name, given name, hospital number) of each referral, in serial order.
PATIENTS = [
    ("Ashworth", "Morwenna", "K0000001"),
    ("ashworth-Lee", "Ira", "k0000002"),
    ("Strauß", "Ines", "K0000003"),
    ("Østergaard", "Yusuf", "K0000004"),
    ("de Vries", "Ashley", "K0000005"),
    ("Quillington", "Zoë", "K0000006"),
    ("Ivostone", "ada", "K0000007"),
]

#: referral (by serial) -> columns emptied after it was stored, as an unscored or incomplete referral may have them.
EMPTIED: dict[int, dict[str, Any]] = {
    2: {"priority": None, "date_of_birth": None},
    4: {"received_on": None, "nhs_number": None},
    7: {"family_name_key": None, "queue_outcome": None},  # still found by its given name
    6: {"priority": None, "received_on": None},
}


@pytest.fixture
def stored(db: Database, admin: Actor, rules: Rules) -> dict[str, int]:
    """The PATIENTS as referrals (family name -> id), some with EMPTIED columns."""
    return store(db, admin, rules, PATIENTS)


def store(db: Database, admin: Actor, rules: Rules, patients: list[tuple[str, str, str]]) -> dict[str, int]:
    """These patients as referrals (family name -> id); those of PATIENTS with their EMPTIED columns."""
    ids = {}
    for serial, (family, given, hospital) in enumerate(patients, start=1):
        saved = register_referral(
            db,
            actor=admin,
            referral=referral(
                serial,
                patient__family_name=family,
                patient__given_name=given,
                patient__hospital_number=hospital,
                patient__date_of_birth=f"19{50 + serial % 3}-0{serial % 3 + 1}-1{serial % 2}",
                received_on=f"2026-0{7 + serial % 3}-0{serial % 4 + 1}",
                severity__twstrs_total=20 + 10 * (serial % 4),
            ),
            rules=rules,
            as_of=AS_OF,
        )
        ids[family] = saved.referral_id
    if patients is PATIENTS:
        table: sa.Table = ReferralRow.__table__  # type: ignore[attr-defined]
        with db.write() as session:
            for serial, values in EMPTIED.items():
                family = patients[serial - 1][0]
                session.connection().execute(sa.update(table).where(table.c.id == ids[family]).values(**values))
    return ids


def expected_order(db: Database, sort: str, descending: bool) -> list[int]:
    """The order worked out in Python: empty lowest, then the value, ties by id; all reversed when descending."""
    column = col(SORT_COLUMNS[sort])
    with db.read() as session:
        rows = session.execute(select(col(ReferralRow.id), column)).all()
    ascending = sorted(rows, key=lambda row: (row[1] is not None, row[1] if row[1] is not None else 0, row[0]))
    return [row[0] for row in (reversed(ascending) if descending else ascending)]


@pytest.mark.hazard("H08")
@pytest.mark.parametrize("sort", list(SORT_COLUMNS))
@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
def test_every_sort_orders_empty_values_lowest_on_either_backend(
    db: Database, stored: dict[str, int], sort: str, descending: bool
) -> None:
    expected = expected_order(db, sort, descending)
    with db.read() as session:
        assert repo.queue_ids(session, queue_filter=QueueFilter(), sort=sort, descending=descending) == expected
        # Every page, across the line between the rows with a value and those without, is a slice of the whole.
        for offset in range(len(expected) + 1):
            page = repo.queue_ids(
                session, queue_filter=QueueFilter(), sort=sort, descending=descending, limit=3, offset=offset
            )
            assert page == expected[offset : offset + 3], (offset, page)
        # The GUI's every-id read (an array, filled batch by batch) gives the same order.
        assert list(repo.queue_id_array(session, queue_filter=QueueFilter(), sort=sort, descending=descending)) == (
            expected
        )


@pytest.mark.hazard("H04")
def test_the_read_of_every_id_stops_when_asked(db: Database, admin: Actor, rules: Rules) -> None:
    """A view the user has left stops its read of every id between batches (what was read is never shown)."""
    load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=4096 + 50)
    with db.read() as session:
        whole = repo.queue_id_array(session, queue_filter=QueueFilter())
        assert len(whole) == 4096 + 50
        cut = repo.queue_id_array(session, queue_filter=QueueFilter(), stop=lambda: True)
    assert 0 < len(cut) < len(whole) and list(cut) == list(whole[: len(cut)])


@pytest.mark.hazard("H08")
def test_a_referral_without_a_priority_never_heads_the_queue(db: Database, stored: dict[str, int]) -> None:
    unscored = {stored["ashworth-Lee"], stored["Quillington"]}
    with db.read() as session:
        ids = repo.queue_ids(session, queue_filter=QueueFilter(), sort="priority", descending=True)
        first_page = repo.queue_ids(session, queue_filter=QueueFilter(), sort="priority", descending=True, limit=2)
    assert set(ids[-2:]) == unscored
    assert not unscored & set(first_page)


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("ashworth", {"Ashworth", "ashworth-Lee"}),
        ("ASHWORTH", {"Ashworth", "ashworth-Lee"}),
        ("AshWorth", {"Ashworth", "ashworth-Lee"}),
        ("ashworth-l", {"ashworth-Lee"}),
        ("ASHWORTH, m", {"Ashworth"}),
        ("ash", {"Ashworth", "ashworth-Lee", "de Vries"}),  # de Vries's given name is Ashley
        ("strauss", {"Strauß"}),  # ß upper-cases to SS, as the stored key does
        ("STRAUß", {"Strauß"}),
        ("østergaard", {"Østergaard"}),
        ("ØSTERGAARD", {"Østergaard"}),
        ("De vRIES", {"de Vries"}),
        ("zoë", {"Quillington"}),
        ("ADA", {"Ivostone"}),
        ("k0000002", {"ashworth-Lee"}),  # a hospital number as stored
        ("K0000003", {"Strauß"}),
        ("k0000003", {"Strauß"}),  # typed in lower case: found by its upper-cased form
    ],
)
def test_search_ignores_case_the_same_on_either_backend(
    db: Database, stored: dict[str, int], typed: str, found: set[str]
) -> None:
    view = QueueFilter(search=typed)
    with db.read() as session:
        ids = set(repo.queue_ids(session, queue_filter=view))
        assert repo.queue_count(session, view) == len(ids)
    assert ids == {stored[name] for name in found}


def test_search_by_nhs_number_with_any_spacing(db: Database, stored: dict[str, int]) -> None:
    with db.read() as session:
        nhs = session.execute(
            select(col(ReferralRow.nhs_number)).where(col(ReferralRow.id) == stored["Ashworth"])
        ).scalar_one()
        assert nhs is not None
        for typed in (nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", f"{nhs[:3]}-{nhs[3:6]}", nhs[:9]):
            found = set(repo.queue_ids(session, queue_filter=QueueFilter(search=typed)))
            assert stored["Ashworth"] in found, typed
            assert stored["Østergaard"] not in found  # its NHS number was emptied
        assert set(repo.queue_ids(session, queue_filter=QueueFilter(search=nhs))) == {stored["Ashworth"]}


@pytest.mark.server_only("the collation of a PostgreSQL column")
def test_name_keys_compare_by_code_point_whatever_the_servers_collation(db: Database) -> None:
    with db.read() as session:
        rows = session.execute(
            sa.text(
                "SELECT column_name, collation_name FROM information_schema.columns "
                "WHERE table_name = 'referral' AND column_name IN ('family_name_key', 'given_name_key')"
            )
        ).all()
        assert dict(rows) == {"family_name_key": "C", "given_name_key": "C"}


@pytest.fixture
def linguistic_db(backend: str) -> Iterator[Database]:
    """A migrated database of its own on the test server whose default collation is British English (ICU), as a
    unit's IT may well make it."""
    admin_url = sa.make_url(os.environ["TRIAGE_TEST_PG_URL"])
    name = f"t_icu_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' "
            "LOCALE_PROVIDER icu ICU_LOCALE 'en-GB'"
        )
    database = Database(parse_database_url(admin_url.set(database=name).render_as_string(hide_password=False)))
    try:
        migrate(database, backup_dir=None)
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.server_only("a server database with a linguistic collation")
def test_search_and_name_order_are_sqlites_in_a_database_with_a_linguistic_collation(
    linguistic_db: Database, rules: Rules
) -> None:
    actor = sign_in(linguistic_db, login="admin-test", display_name="Ada Admin")
    ensure_rules_approved(
        linguistic_db, signed_in=actor, shipped=read_rules_file(shipped_rules_path()), as_of=date(2026, 1, 1)
    )
    patients = [("Ashworth", "Ira", "K1"), ("Áshworth", "Ines", "K2"), ("Ash Worth", "Yusuf", "K3")]
    patients += [("Østergaard", "Ada", "K4"), ("Strauß", "Zoë", "K5"), ("Pemberton", "Ola", "K6")]
    ids = store(linguistic_db, actor, rules, patients)
    with linguistic_db.read() as session:
        found = set(repo.queue_ids(session, queue_filter=QueueFilter(search="ashworth")))
        by_name = repo.queue_ids(session, queue_filter=QueueFilter(), sort="name", descending=False)
    assert found == {ids["Ashworth"]}  # not the accented name, nor the one with a space
    # By code point, as SQLite: ASH WORTH, ASHWORTH, PEMBERTON, STRAUSS, ÁSHWORTH, ØSTERGAARD.
    assert by_name == [ids[n] for n in ("Ash Worth", "Ashworth", "Pemberton", "Strauß", "Áshworth", "Østergaard")]


@pytest.mark.hazard("H03")
def test_demo_referrals_stored_in_bulk_read_back_whole_and_pass_the_audit_check(
    db: Database, admin: Actor, rules: Rules
) -> None:
    """storage.bulk inserts by COPY on a server and executemany on SQLite: the same rows either way."""
    loaded = load_demo(db, actor=admin, rules=rules, as_of=AS_OF, count=40)
    assert loaded.added == 40
    with db.read() as session:
        rows = session.execute(select(ReferralRow).order_by(col(ReferralRow.id))).scalars().all()
        assert len(rows) == 40
        for row in rows:
            assert row.created_at.tzinfo is not None and row.version == 1 and row.status == "received"
            assert row.family_name_key == (row.family_name or "").strip().upper()
            assert row.current_assessment_id is not None and row.priority is not None
        listed = repo.queue_rows(session, [row.id for row in rows if row.id is not None])
        assert sum(len(line.flags) for line in listed.values()) > 0
    # An ordinary referral after the bulk load takes the next id from the server's sequence.
    after = register_referral(db, actor=admin, referral=referral(900), rules=rules, as_of=AS_OF)
    assert after.referral_id == max(row.id or 0 for row in rows) + 1
    report = verify_audit_trail(db)
    assert report.intact, report.problems
    assert report.referrals_checked == 41
