"""Build db/fixtures/schema-NNNN.sqlite3: a database of the current schema holding a few referrals.

Run once when a schema is released, then commit the file; the tests upgrade from every such fixture.
Only test-range NHS numbers and invented names go in.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.factories import referral
from triage_app.config import default_rules_path
from triage_app.domain.rules import load_rules
from triage_app.services.referrals import register_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import add_user, sign_in
from triage_app.storage.engine import Database, parse_database_url, sqlite_url
from triage_app.storage.migrate import head_revision, migrate


def main() -> None:
    """Write the fixture for the current head revision."""
    target = Path(__file__).resolve().parents[1] / "db" / "fixtures" / f"schema-{head_revision()}.sqlite3"
    target.unlink(missing_ok=True)
    database = Database(parse_database_url(sqlite_url(target)))
    migrate(database, backup_dir=None)
    rules = load_rules(default_rules_path())
    admin = sign_in(database, login="fixture-admin", display_name="Fixture Admin")
    consultant = add_user(
        database, actor=admin, login="fixture-consultant", display_name="Dr Fixture", roles=["consultant"]
    )
    as_of = date(2026, 11, 2)
    first = register_referral(database, actor=admin, referral=referral(1), rules=rules, as_of=as_of)
    register_referral(
        database,
        actor=admin,
        referral=referral(2, severity__twstrs_total=None, oral_medications=[{"drug": "baclofen", "outcome": None}]),
        rules=rules,
        as_of=as_of,
    )
    register_referral(
        database,
        actor=admin,
        referral=referral(3, referrer__role="gp", diagnosis__specialist_confirmed=False),
        rules=rules,
        as_of=as_of,
    )
    decide_triage(database, actor=consultant, referral_id=first.referral_id, expected_version=1)
    if head_revision() >= "0002":  # schema 0002 added MDT meetings
        from triage_app.services import meetings

        meeting_id = meetings.create_meeting(
            database,
            actor=admin,
            meeting_date=date(2026, 12, 3),
            meeting_time="13:30",
            place="Seminar room 2",
            attendees=[("Dr Fixture", "functional_neurosurgeon")],
        )
        meetings.add_case(database, actor=admin, meeting_id=meeting_id, referral_id=first.referral_id)
        meetings.record_outcome(
            database,
            actor=consultant,
            meeting_id=meeting_id,
            referral_id=first.referral_id,
            outcome="more_information_needed",
            rationale="Videofluoroscopy first",
            today=date(2026, 12, 3),
            actions=[meetings.CaseAction("Request videofluoroscopy", "Coordinator", date(2026, 12, 17))],
        )
    database.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
