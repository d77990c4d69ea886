"""`triage-app queue` and `referral show` read the 18-week clock for today; `queue --sort breaches`.

Each referral is imported (and so scored) on the day it was received, so none has `rtt_breach_risk` stored:
what the commands print is worked out for the day they run.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.factories import referral_json
from triage_app.__main__ import main
from triage_app.domain.formats import format_date
from triage_app.services.app import local_today

#: serial -> (days waiting today, TWSTRS total)
WAITING = {1: (3, 85), 2: (12 * 7 - 1, 70), 3: (12 * 7, 20), 4: (18 * 7 - 1, 60), 5: (18 * 7, 10), 6: (30 * 7, 40)}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The `--data-dir` arguments of a queue where each referral was scored on the day it arrived."""
    data = ["--data-dir", str(tmp_path / "data")]
    for serial, (days, severity) in WAITING.items():
        received = (local_today() - timedelta(days=days)).isoformat()
        source = tmp_path / f"r{serial}.json"
        source.write_text(json.dumps(referral_json(serial, received_on=received, severity__twstrs_total=severity)))
        code, _, err = run(capsys, *data, "import", str(source), "--as-of", received)
        assert code == 0, err
    return data


@pytest.mark.hazard("H07", "H08")
def test_queue_breaches_first_with_todays_weeks_and_cautions(
    capsys: pytest.CaptureFixture[str], data_dir: list[str]
) -> None:
    code, out, err = run(capsys, *data_dir, "queue", "--sort", "breaches", "--json")
    assert code == 0, err
    queue = json.loads(out)
    nhs = {serial: referral_json(serial)["patient"]["nhs_number"].replace(" ", "") for serial in WAITING}
    # 18 weeks or more by priority (30 weeks, then 18), the warning weeks by priority (17, then 12), the rest.
    assert [entry["nhs_number"] for entry in queue] == [nhs[6], nhs[5], nhs[4], nhs[3], nhs[2], nhs[1]]
    assert [entry["weeks_waiting"] for entry in queue] == [30, 18, 17, 12, 11, 0]
    assert [("rtt_breach_risk" in entry["flags"]) for entry in queue] == [True, True, True, True, False, False]
    assert [entry["rtt"] for entry in queue] == ["breached", "breached", "warning", "warning", "within", "within"]
    code, out, _ = run(capsys, *data_dir, "queue")  # by priority, in text, the same cautions
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert "RTT risk" in lines["4"] and "RTT risk" not in lines["2"]
    # the text marks a breach apart from a warning, as the desktop's Wks column does
    assert " 18‼ " in lines["5"] and " 17! " in lines["4"] and " 11 " in lines["2"]
    with pytest.raises(SystemExit) as exited:
        main([*data_dir, "queue", "--sort", "shoe_size"])
    assert exited.value.code == 2 and "invalid choice: 'shoe_size'" in capsys.readouterr().err


@pytest.mark.hazard("H07")
def test_referral_show_says_the_clock_of_today(capsys: pytest.CaptureFixture[str], data_dir: list[str]) -> None:
    code, out, err = run(capsys, *data_dir, "referral", "show", "5")
    assert code == 0, err
    assert (
        f"waiting: 18 weeks waiting: past the 18-week referral-to-treatment standard (on {format_date(local_today())})"
        in out
    )
    cautions = out.split("\ncautions:", 1)[1].split("\nmissing:", 1)[0]
    assert "RTT risk" in cautions
    code, out, _ = run(capsys, *data_dir, "referral", "show", "2")
    assert "waiting: 11 weeks waiting (on " in out and "RTT risk" not in out
