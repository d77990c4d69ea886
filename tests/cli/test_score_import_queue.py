"""`triage-app score`, `import`, `queue` and `reassess` as a coordinator would run them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.factories import EXAMPLES, referral_json
from tests.stored import stored_rows, stored_value
from triage_app.__main__ import main
from triage_app.config import default_rules_path

EXPECTED = json.loads((EXAMPLES / "expected.json").read_text(encoding="utf-8"))
AS_OF = EXPECTED["as_of"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, content: Any, name: str = "in.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


# score ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED["results"]))
@pytest.mark.hazard("H05")
def test_score_each_example_file(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "referrals" / f"{name}.json"
    code, out, err = run(capsys, "score", str(path), "--as-of", AS_OF)
    expected = EXPECTED["results"][name]
    result = json.loads(out)
    if "errors" in expected:
        assert code == 2
        assert [e["field"] for e in result["errors"]] == expected["errors"]
        assert "patient.nhs_number: NHS number check digit does not match" in err
    else:
        assert code == 0 and err == ""
        assert result["outcome"] == expected["outcome"] and result["priority"] == expected["priority"]
        assert {c["id"]: c["status"] for c in result["criteria"]} == expected["criteria"]


def test_score_an_array_keeps_order_and_marks_bad_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = sorted(EXPECTED["results"])
    records = [json.loads((EXAMPLES / "referrals" / f"{n}.json").read_text()) for n in names]
    code, out, err = run(capsys, "score", str(write(tmp_path, records)), "--as-of", AS_OF)
    results = json.loads(out)
    assert code == 2 and len(results) == len(names)
    for name, result in zip(names, results, strict=True):
        expected = EXPECTED["results"][name]
        assert ("errors" in result) == ("errors" in expected)
        if "errors" not in expected:
            assert result["outcome"] == expected["outcome"]
    # numbered from 1 and named by the file's own reference
    assert err.startswith(
        f"record {names.index('08_invalid_nhs_number') + 1} (external_id EX-008): patient.nhs_number:"
    )


def test_score_all_good_array_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "score", str(write(tmp_path, [referral_json(1), referral_json(2)])), "--as-of", AS_OF)
    assert code == 0 and len(json.loads(out)) == 2
    code, out, _ = run(capsys, "score", str(write(tmp_path, [], "empty.json")), "--as-of", AS_OF)
    assert code == 0 and json.loads(out) == []


def test_score_without_as_of_uses_today(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from triage_app.services.app import local_today

    code, out, _ = run(capsys, "score", str(write(tmp_path, referral_json(1))))
    assert code == 0 and json.loads(out)["as_of"] == local_today().isoformat()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("   \n", "the file is empty"),
        ("{not json", "not valid JSON at line 1"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("[1, 2", "not valid JSON"),
    ],
)
def test_score_bad_files(content: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "score", str(write(tmp_path, content)))
    assert code == 2 and message in err and out == ""


def test_score_missing_file_and_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "score", str(tmp_path / "absent.json"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "score", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_score_bad_as_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "score", str(write(tmp_path, referral_json(1))), "--as-of", "02/11/2026")
    assert code == 2 and "--as-of '02/11/2026' is not a date" in err


def test_score_with_a_unit_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = default_rules_path().read_text(encoding="utf-8")
    custom = write(
        tmp_path,
        text.replace('"spd-2026.2"', '"unit-7"').replace('["RXX01"]', '["RQQ07"]'),
        "unit.toml",
    )
    code, out, _ = run(
        capsys, "score", str(write(tmp_path, referral_json(1))), "--as-of", AS_OF, "--rules", str(custom)
    )
    result = json.loads(out)
    assert code == 0 and result["rules_version"] == "unit-7"
    assert result["outcome"] == "redirect_to_specialist_unit"


def test_score_with_a_malformed_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = default_rules_path().read_text(encoding="utf-8").replace("oral_min_drugs = 1\n", "")
    custom = write(tmp_path, text, "unit.toml")
    code, out, err = run(capsys, "score", str(write(tmp_path, referral_json(1))), "--rules", str(custom))
    assert code == 2 and "refractory.oral_min_drugs" in err and out == ""


def test_score_touches_no_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "never"
    run(capsys, "--data-dir", str(data), "score", str(write(tmp_path, referral_json(1))))
    assert not data.exists()


# import, queue, reassess -------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.mark.hazard("H02")
def test_import_adds_refuses_and_reports(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = referral_json(1), referral_json(2, patient__nhs_number="999 000 0302", severity__tsui=40)
    code, out, err = run(
        capsys,
        "--data-dir",
        str(data_dir),
        "import",
        str(write(tmp_path, [good, bad, referral_json(3)])),
        "--as-of",
        AS_OF,
    )
    assert code == 2
    assert "record 1 (external_id T-001): added as referral 1 (ready_for_mdt)" in out
    assert "record 2 (external_id T-001): refused" in out and "record 3 (external_id T-001): added as referral 2" in out
    assert "record 2 (external_id T-001): patient.nhs_number:" in err
    assert "record 2 (external_id T-001): severity.tsui:" in err
    assert "2 added, 0 duplicate, 0 possible duplicate, 1 refused of 3 records" in out

    code, out, _ = run(
        capsys, "--data-dir", str(data_dir), "import", str(write(tmp_path, good, "one.json")), "--as-of", AS_OF
    )
    assert code == 0 and "record 1 (external_id T-001): duplicate of referral 1" in out
    for table in ("referral", "oral_medication", "assessment"):
        assert stored_value(data_dir, f"SELECT count(*) FROM {table}") == 2


@pytest.mark.hazard("H03")
def test_import_of_a_bad_file_stores_nothing(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--data-dir", str(data_dir), "import", str(write(tmp_path, "[{")))
    assert code == 2 and "not valid JSON" in err
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "queue")
    assert code == 0 and "0 referrals" in out
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "queue", "--json")
    assert json.loads(out) == []


@pytest.mark.hazard("H08")
def test_queue_is_highest_priority_first_and_filters(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [
        referral_json(1, severity__twstrs_total=20),
        referral_json(2, severity__twstrs_total=80, severity__twstrs_pain=15),
        referral_json(3, referrer__role="gp", diagnosis__specialist_confirmed=False),
        referral_json(4, severity__twstrs_total=None),
    ]
    run(capsys, "--data-dir", str(data_dir), "import", str(write(tmp_path, records)), "--as-of", AS_OF)
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "queue", "--json")
    queue = json.loads(out)
    priorities = [entry["priority"] for entry in queue]
    assert code == 0 and priorities == sorted(priorities, reverse=True) and len(queue) == 4
    assert queue[0]["nhs_number"] == records[1]["patient"]["nhs_number"]
    assert {"head_tremor", "rtt_breach_risk"} <= set(queue[0]["flags"])

    code, out, _ = run(capsys, "--data-dir", str(data_dir), "queue", "--json", "--outcome", "needs_information")
    assert [e["nhs_number"] for e in json.loads(out)] == [records[3]["patient"]["nhs_number"]]
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "queue", "--status", "received")
    assert "4 referrals" in out and "999 000" in out
    with pytest.raises(SystemExit) as exited:
        main(["--data-dir", str(data_dir), "queue", "--outcome", "maybe"])
    assert exited.value.code == 2 and "invalid choice: 'maybe'" in capsys.readouterr().err


@pytest.mark.hazard("H05")
def test_rules_version_change_reassesses_open_referrals_and_keeps_history(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--data-dir", str(data_dir), "import", str(write(tmp_path, [referral_json(1)])), "--as-of", AS_OF)
    text = default_rules_path().read_text(encoding="utf-8")
    custom = write(tmp_path, text.replace('"spd-2026.2"', '"unit-8"').replace('["RXX01"]', '["RQQ07"]'), "u.toml")
    # rules change only by an administrator's approval in the database (the first user here is the admin)
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "rules", "approve", str(custom))
    assert code == 0 and "S2 specialist units offering SPD: RXX01 -> RQQ07" in out and "1 open referral " in out
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "queue", "--json")
    assert json.loads(out)[0]["outcome"] == "redirect_to_specialist_unit"
    history = stored_rows(data_dir, "SELECT rules_version, outcome, is_current FROM assessment ORDER BY id")
    assert history == [("spd-2026.2", "ready_for_mdt", 0), ("unit-8", "redirect_to_specialist_unit", 1)]
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "reassess", "--all")
    assert code == 0 and "1 open referrals reassessed with rules unit-8" in out
