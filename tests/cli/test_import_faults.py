"""Nasty input through `triage-app score` and `triage-app import` (issue 10, findings 6 and 11): huge and
5,000-digit integers, nan and infinities, lone surrogates, deep nesting, 10 MB strings, null bytes and control
characters, duplicate keys, ids of 2^70. Each ends in a message naming what is wrong and exit status 2; never a
traceback, and every record of a file is tried.

Subprocesses for a corpus of files (the commands exactly as a coordinator runs them), and a property test over
generated values in process (hypothesis) for breadth.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import AS_OF, referral_json
from tests.stored import stored_rows
from triage_app.__main__ import main
from triage_app.domain.nhs_number import make_test_nhs_number
from triage_app.domain.parsing import ReferralInputError, loads_json, parse_referral

AS_OF_TEXT = AS_OF.isoformat()


def triage_app(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "triage_app", *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="strict",  # output that is not valid UTF-8 fails the test
        timeout=180,
        check=False,
        cwd=cwd,
    )


def record_text(serial: int, field: str, raw: str) -> str:
    """A referral as JSON text with `"field": <raw JSON>` written in (for values json.dumps cannot write)."""
    text = json.dumps({**referral_json(serial), field: None}, ensure_ascii=True)
    return text.replace(f'"{field}": null', f'"{field}": {raw}')


def severity_text(serial: int, raw: str) -> str:
    text = json.dumps(referral_json(serial), ensure_ascii=True)
    return text.replace('"twstrs_total": 38', f'"twstrs_total": {raw}')


#: (record as JSON text, the message it must get on standard error): records numbered from 1 and named by their
#: external_id (every factory record's is T-001), as a coordinator finds them; records 1 and 16 are valid.
NASTY_RECORDS: list[tuple[str, str]] = [
    (json.dumps(referral_json(1)), ""),
    (
        severity_text(2, "9" * 5_000),
        "record 2 (external_id T-001): severity.twstrs_total: a number of 5,000 digits is out of range",
    ),
    (
        json.dumps(referral_json(3)).replace('"Quillfeather"', '"Quill\\ud800feather"'),
        "record 3 (external_id T-001): patient.family_name: is not valid text: character 6 is half of a UTF-16 pair",
    ),
    (
        record_text(4, "clinical_question", json.dumps("Q" * 10_000_000)),
        "record 4 (external_id T-001): clinical_question: 4,000 characters at most (this one has 10,000,000)",
    ),
    (
        json.dumps(referral_json(5, botulinum_toxin__cycles=2**63)),
        "record 5 (external_id T-001): botulinum_toxin.cycles: a number of 19 digits is out of range: it must be from 0 to 300",
    ),
    (
        severity_text(6, "NaN"),
        "record 6 (external_id T-001): severity.twstrs_total: must be a whole number, not the number nan",
    ),
    (
        severity_text(7, "-Infinity"),
        "record 7 (external_id T-001): severity.twstrs_total: must be a whole number, not the number -inf",
    ),
    (
        severity_text(8, "1e999"),
        "record 8 (external_id T-001): severity.twstrs_total: must be a whole number, not the number inf",
    ),
    (
        json.dumps(referral_json(9)).replace('"Morwenna"', '"Mor\\u0000wenna"'),
        "record 9 (external_id T-001): patient.given_name: holds a control character (U+0000) at character 4",
    ),
    (
        json.dumps(referral_json(10)).replace(
            '"family_name": "Quillfeather"', '"family_name": "A", "family_name": "B"'
        ),
        "record 10 (external_id T-001): patient.family_name: is given more than once in this record (a duplicate key)",
    ),
    (
        record_text(11, "k" * 10_000_000, "1"),
        "record 11 (external_id T-001): kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…: is not a field of a referral",
    ),
    (
        record_text(12, "clinical_question", "[" * 500 + "]" * 500),
        "record 12 (external_id T-001): clinical_question: must be text, not a list",
    ),
    (
        record_text(13, "bad\\ud800key", "1"),
        "record 13 (external_id T-001): bad\\ud800key: is not a field of a referral",
    ),
    ("9" * 5_000, "record 14: (record): a referral must be a JSON object, not a number of 5,000 digits"),
    (
        json.dumps(referral_json(15)).replace('"Consider SPD', '"\\u001b[2J\\u0007Consider SPD'),
        "record 15 (external_id T-001): clinical_question: holds a control character (U+001B) at character 1",
    ),
    (json.dumps(referral_json(16)), ""),
]


@pytest.fixture(scope="module")
def nasty_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nasty") / "nasty.json"
    path.write_text("[\n" + ",\n".join(text for text, _ in NASTY_RECORDS) + "\n]", encoding="utf-8")
    return path


@pytest.mark.hazard("H03", "H17")
def test_score_refuses_each_nasty_record_by_name_and_scores_the_rest(nasty_file: Path) -> None:
    done = triage_app("score", str(nasty_file), "--as-of", AS_OF_TEXT)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2
    results = json.loads(done.stdout)
    assert len(results) == len(NASTY_RECORDS)
    assert "outcome" in results[0] and "outcome" in results[-1]
    assert all("errors" in result for result in results[1:-1])
    for _, message in NASTY_RECORDS:
        assert message in done.stderr
    assert len(done.stderr) < 20_000  # a 10 MB value or key is never echoed


@pytest.mark.hazard("H03", "H17")
def test_import_tries_every_record_stores_the_good_ones_and_names_each_refusal(
    nasty_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    done = triage_app("--data-dir", str(data), "import", str(nasty_file), "--as-of", AS_OF_TEXT)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    last = len(NASTY_RECORDS) - 1
    assert lines[0] == "record 1 (external_id T-001): added as referral 1 (ready_for_mdt)"
    assert lines[1:last] == [
        f"record {i + 1}{'' if i == 13 else ' (external_id T-001)'}: refused" for i in range(1, last)
    ]  # record 14 is a number, not an object: nothing in it names it
    assert lines[last] == f"record {last + 1} (external_id T-001): added as referral 2 (ready_for_mdt)"
    assert lines[-1] == f"2 added, 0 duplicate, 0 possible duplicate, {last - 1} refused of {last + 1} records"
    for _, message in NASTY_RECORDS:
        assert message in done.stderr
    stored = [row[0] for row in stored_rows(data, "SELECT nhs_number FROM referral ORDER BY id")]
    assert stored == [make_test_nhs_number(1), make_test_nhs_number(16)]


#: Whole files that cannot be read as referrals: (name, bytes, message).
BAD_FILES: list[tuple[str, bytes, str]] = [
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "the JSON is nested too deeply"),
    ("latin1.json", json.dumps(referral_json(1)).replace("Quillfeather", "Qu\xefll").encode("latin-1"), "not UTF-8"),
    ("huge-number.json", b"9" * 5_000, "(record): a referral must be a JSON object, not a number of 5,000 digits"),
    ("surrogate.json", b'"\\ud800"', "(record): a referral must be a JSON object, not text"),
    ("nul.json", b"\x00\x00", "not valid JSON"),
    (
        "duplicate.json",
        json.dumps(referral_json(1)).replace('"received_on"', '"received_on": "2026-08-01", "received_on"').encode(),
        "received_on: is given more than once in this record (a duplicate key): give each field once",
    ),
]


@pytest.mark.hazard("H17")
@pytest.mark.parametrize("command", ["score", "import"])
def test_files_that_are_not_referrals_get_a_message_never_a_traceback(command: str, tmp_path: Path) -> None:
    # import reads the file the same way before it opens the database: three files show it (the slowest command)
    files = BAD_FILES if command == "score" else [BAD_FILES[0], BAD_FILES[2], BAD_FILES[5]]
    for name, content, message in files:
        path = tmp_path / name
        path.write_bytes(content)
        done = triage_app("--data-dir", str(tmp_path / "data"), command, str(path), "--as-of", AS_OF_TEXT)
        assert "Traceback" not in done.stderr, name
        assert done.returncode == 2, (name, done.stderr)
        assert message in done.stderr, (name, done.stderr)


@pytest.mark.hazard("H17")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["meeting", "show", str(2**70)], "argument MEETING: '1180591620717411303…' is out of range (22 digits)"),
        (["referral", "show", "9" * 5_000], "argument REFERRAL: '9999999999999999999…' is out of range (5,000 digits)"),
        (["triage", "confirm", "1", "--version", str(2**31)], "argument --version: 2,147,483,648 is out of range"),
        (["meeting", "capacity", "101"], "argument N: 101 is out of range: choose 1 to 100"),
        (["agenda", "-5", "--format", "csv", "--out", "x.csv"], "argument MEETING: -5 is out of range"),
        (["letters", "1e3", "--format", "pdf", "--out-dir", "x"], "argument MEETING: '1e3' is not a whole number"),
        (["referral", "show", "\udcff"], "argument REFERRAL: '\\udcff' is not a whole number"),
    ],
)
def test_integer_arguments_are_bounded_with_argparse_s_message(argv: list[str], message: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "triage_app", "--data-dir", str(tmp_path / "d"), *argv],
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode("utf-8", "backslashreplace")
    assert "Traceback" not in stderr
    assert done.returncode == 2
    assert message in stderr, stderr


# --- breadth: generated values, in process ------------------------------------------------------------------

NASTY_LEAVES = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**63, -(2**63), 2**31, 0, -1, 10**4_000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=30),  # surrogates and controls included
    st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b[31m", "a" * 5_000, "\u202eevil", "\n", ""]),
    st.booleans(),
    st.none(),
)
NASTY_JSON = st.recursive(
    NASTY_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
PATHS = [
    "external_id",
    "received_on",
    "patient",
    "patient__family_name",
    "patient__nhs_number",
    "patient__date_of_birth",
    "referrer__name",
    "diagnosis__onset",
    "severity__twstrs_total",
    "severity__twstrs_pain",
    "botulinum_toxin__cycles",
    "phenotype__components",
    "oral_medications",
    "clinical_question",
    "history__dysphagia",
]


def _dumps(value: Any) -> str:
    """JSON text as a file would hold it (nan and infinities as json writes them; a surrogate as an escape)."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


@pytest.mark.hazard("H17")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=NASTY_JSON)
def test_any_value_in_any_field_is_scored_or_refused_in_printable_words(path: str, value: Any) -> None:
    record = referral_json(1, **{path: value})
    text = _dumps(record)
    try:
        parsed = parse_referral(loads_json(text), as_of=AS_OF)
    except ReferralInputError as refused:
        for error in refused.errors:
            (error.field + error.message).encode("utf-8")  # printable: no lone surrogate reaches the terminal
            assert len(error.field) + len(error.message) < 1_000
    else:  # read: every whole number in its range, every text within its limit
        assert parsed.severity.twstrs_total is None or 0 <= parsed.severity.twstrs_total <= 85
        assert parsed.clinical_question is None or len(parsed.clinical_question) <= 4_000
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "one.json"
        source.write_text(text, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["score", str(source), "--as-of", AS_OF_TEXT])
    assert status in (0, 2)
    out.getvalue().encode("utf-8")
    err.getvalue().encode("utf-8")
    result = json.loads(out.getvalue())
    assert ("errors" in result) == (status == 2)
    if status == 2:
        assert err.getvalue().strip()


@pytest.mark.hazard("H17")
@settings(max_examples=60, deadline=None)
@given(number=st.one_of(st.integers(), st.sampled_from([2**63, 2**70, -(2**63)]), st.floats()))
def test_every_number_in_every_numeric_field_is_in_range_or_refused(number: int | float) -> None:
    for path in ("severity__twstrs_total", "severity__twstrs_pain", "severity__tsui", "botulinum_toxin__cycles"):
        try:
            parsed = parse_referral(referral_json(1, **{path: number}), as_of=AS_OF)
        except ReferralInputError:
            continue
        section, field = path.split("__")
        stored = getattr(getattr(parsed, section), field)
        assert isinstance(stored, int) and not isinstance(stored, bool)
        assert 0 <= stored <= 300 and not (isinstance(number, float) and math.isnan(number))
