"""Import and score name each record as a coordinator finds it in the file (tester's defect 7, issue-10 follow-up):
numbered from 1, and by the file's own reference (external_id, else the NHS number as given); the log keeps
record numbers only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.factories import AS_OF, referral_json
from tests.stored import stored_rows
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.record_names import describe_record, record_reference

AS_OF_TEXT = AS_OF.isoformat()
TEN_MB = 10 * 1024 * 1024


def triage_app(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "triage_app", *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="strict",
        timeout=300,
        check=False,
    )


def batch_of_400() -> list[dict[str, Any]]:
    """400 referrals, each with its own reference; the 250th has a 10 MB given name; the 300th gives no reference,
    so only its NHS number (as typed, with spaces) names it."""
    records = [referral_json(serial, external_id=f"REF-{serial:04d}") for serial in range(1, 401)]
    records[249]["patient"]["given_name"] = "M" * TEN_MB
    del records[299]["external_id"]
    records[299]["patient"]["nhs_number"] = "999 000 3001"  # not a valid one: refused, and named as given
    return records


@pytest.mark.hazard("H17")
def test_the_250th_of_400_records_is_called_record_250_and_named_by_its_external_id(tmp_path: Path) -> None:
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps(batch_of_400()), encoding="utf-8")
    data = tmp_path / "data"

    done = triage_app("--data-dir", str(data), "import", str(batch), "--as-of", AS_OF_TEXT)

    assert "Traceback" not in done.stderr and done.returncode == 2
    lines = done.stdout.splitlines()
    assert lines[0] == "record 1 (external_id REF-0001): added as referral 1 (ready_for_mdt)"
    assert lines[249] == "record 250 (external_id REF-0250): refused"
    assert lines[299] == "record 300 (NHS number 999 000 3001): refused"
    assert lines[399] == "record 400 (external_id REF-0400): added as referral 398 (ready_for_mdt)"
    assert lines[-1] == "398 added, 0 duplicate, 0 possible duplicate, 2 refused of 400 records"
    errors = done.stderr.splitlines()
    assert errors[0] == (
        "record 250 (external_id REF-0250): patient.given_name: 100 characters at most (this one has 10,485,760)"
    )
    assert errors[1].startswith("record 300 (NHS number 999 000 3001): patient.nhs_number: ")
    assert len(errors) == 2
    # What the lines say is what is stored: record 250 (NHS number of serial 250) is the one not added.
    stored = {row[0] for row in stored_rows(data, "SELECT nhs_number FROM referral")}
    assert make_test_nhs_number(250) not in stored and make_test_nhs_number(249) in stored
    assert make_test_nhs_number(251) in stored and len(stored) == 398
    # The log names no record by its reference or NHS number.
    for log in (data / "logs").glob("*.log*"):
        text = log.read_text(encoding="utf-8")
        assert "REF-0250" not in text and "999 000 3001" not in text

    scored = triage_app("score", str(batch), "--as-of", AS_OF_TEXT)
    assert scored.returncode == 2
    assert scored.stderr.splitlines()[0] == errors[0]
    results = json.loads(scored.stdout)  # score's JSON output is unchanged: an array in input order
    assert len(results) == 400 and "errors" in results[249] and "errors" in results[299]
    assert all("outcome" in result for i, result in enumerate(results) if i not in (249, 299))


def test_a_record_is_named_only_by_what_can_be_shown_on_one_line() -> None:
    record = referral_json(1, external_id="REF 7")
    assert describe_record(0, record) == "record 1 (external_id REF 7)"
    assert describe_record(6, referral_json(1, external_id=" ")) == "record 7 (NHS number 9990000107)"
    # Over its limit, a control or bidi character, a lone surrogate: the NHS number names it instead.
    for bad in ("R" * 65, "REF\x1b[2J", "REF\u202e1", "REF\ud8001", ["REF-1"]):
        assert record_reference(referral_json(1, external_id=bad)) == "NHS number 9990000107"
    # A NHS number given as a JSON number is shown as given; nothing readable names nothing.
    assert record_reference({"patient": {"nhs_number": 9990000107}}) == "NHS number 9990000107"
    assert describe_record(12, {"patient": {"nhs_number": "999\u0000"}}) == "record 13"
    assert describe_record(13, 9**99) == "record 14"
    assert describe_record(0, {}) == "record 1"
