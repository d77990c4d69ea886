"""Pictures of the MDT's paperwork made from demo data, for the README: the agenda's first page, the outcome
summary and one outcome letter, each written by the app's own exports and turned into PNG by pdftoppm:

    python scripts/paperwork_pictures.py docs/ [--count 412]

Writes agenda-page1.png, outcomes-page1.png and letter-page1.png into the folder given (needs poppler-utils for
pdftoppm). Uses a throw-away data folder with invented referrals (test-range NHS numbers) and demo users, as
scripts/screenshot.py does; the meeting's first cases get outcomes with actions, recorded by a demo consultant.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot import prepare  # the same demo database as the window screenshots

from triage_app.config import default_rules_path, resolve_paths
from triage_app.domain.meetings import CaseAction
from triage_app.domain.rules import load_rules
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.exports import export_agenda_file, export_letters
from triage_app.services.meeting_outcomes import record_outcome
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database, parse_database_url

#: What the demo MDT decides for the first cases, with the rationale it gives and one agreed action each.
DECISIONS = (
    (
        "accept_for_spd",
        "Refractory to best medical treatment: secondary non-response to toxin with antibodies tested, two oral "
        "agents not tolerated, physiotherapy completed. Posterior pattern suitable for SPD.",
        ("Add to the SPD waiting list and book pre-operative EMG mapping", "MDT coordinator", 14),
    ),
    (
        "continue_best_medical_treatment",
        "Partial response to toxin; ultrasound-guided injections not yet tried. Review after two further cycles.",
        ("Refer to the toxin clinic for ultrasound-guided injections", "Referrer", 28),
    ),
    (
        "refer_for_dbs_assessment",
        "Segmental distribution with arm involvement: better served by deep brain stimulation assessment.",
        ("Refer to the DBS assessment clinic", "MDT coordinator", 21),
    ),
)


def first_page_png(pdf: Path, target: Path) -> None:
    """The PDF's first page as a PNG at `target` (pdftoppm at 80 dpi)."""
    stem = target.with_suffix("")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)], check=True
    )
    print(f"wrote {target}")


def main() -> int:
    """Make the demo database, record outcomes, export the paperwork and render each first page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", type=Path, help="where to write the PNG files")
    parser.add_argument("--count", type=int, default=412, help="demo referrals (default 412)")
    args = parser.parse_args()
    if shutil.which("pdftoppm") is None:
        parser.error("pdftoppm is not installed (Debian: apt-get install poppler-utils)")
    folder: Path = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "data"
        out = Path(work) / "out"
        out.mkdir()
        data_dir.mkdir()
        prepare(data_dir, args.count)
        paths = resolve_paths(data_dir=str(data_dir), environ={})
        database = Database(parse_database_url(paths.db_url))
        consultant = sign_in(database, login="jpatel")
        rules = load_rules(default_rules_path())
        today = local_today()
        meeting_id = meetings.list_meetings(database, rules=rules, actor=consultant)[0].meeting_id
        detail = meetings.get_meeting(database, meeting_id=meeting_id, rules=rules, actor=consultant)
        for case, (outcome, rationale, (action, owner, days)) in zip(detail.cases, DECISIONS, strict=False):
            checklist = (
                dict.fromkeys(
                    ("patient_information_given", "consent_discussion_planned", "baseline_severity_recorded"), True
                )
                if outcome == "accept_for_spd"
                else None
            )
            record_outcome(
                database,
                actor=consultant,
                meeting_id=meeting_id,
                referral_id=case.referral_id,
                outcome=outcome,
                rationale=rationale,
                today=today,
                checklist=checklist,
                actions=[CaseAction(action, owner, today + timedelta(days=days))],
            )
        export_agenda_file(database, actor=consultant, meeting_id=meeting_id, fmt="pdf", out=out / "agenda.pdf")
        export_agenda_file(
            database, actor=consultant, meeting_id=meeting_id, fmt="pdf", out=out / "outcomes.pdf", outcomes=True
        )
        letters = export_letters(
            database, actor=consultant, meeting_id=meeting_id, fmt="pdf", out_dir=out / "letters", today=today
        )
        database.dispose()
        first_page_png(out / "agenda.pdf", folder / "agenda-page1.png")
        first_page_png(out / "outcomes.pdf", folder / "outcomes-page1.png")
        first_page_png(sorted(letters)[0], folder / "letter-page1.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
