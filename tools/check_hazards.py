"""Check the hazard log against the tests, and run the tests that prove its controls.

    python3 tools/check_hazards.py            # the log, the markers, and one pytest run of the hazard tests
    python3 tools/check_hazards.py --no-run   # the log and the markers only (collects, runs nothing)

It fails (exit 1, one line per problem, each naming the hazard and the test) when:

- a hazard in the log names no test, or one of its controls names no test or no code;
- the log names a test that does not exist, or code (a file, a function) that does not exist;
- a test marked `@pytest.mark.hazard("Hnn")` is not named under Hnn in the log, or the log names a test under Hnn
  that is not marked Hnn;
- a marker names a hazard that is not in the log (or is not of the form Hnn);
- one of the hazard tests fails (or errors, or passes when it was expected to fail), or every test of a control
  was skipped, so that nothing proved it here;
- a risk rating disagrees with the DCB0129 matrix the log states, or a residual risk is unacceptable.

The log's format is described in the log itself ("How the check works"). The same file is also the pytest plugin
that records, in the one pytest run, which tests carry which hazard ids and how each test ended
(`-p check_hazards`, with this folder on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HAZARD_ID = re.compile(r"^H\d{2}$")
HAZARD_HEADING = re.compile(r"^## (H\d{2})\b")
SECTION_HEADING = re.compile(r"^##? ")
CONTROL_ROW = re.compile(r"^\|\s*(H\d{2}\.\d+)\s*\|")
RISK_ROW = re.compile(
    r"^\|\s*(Initial|Residual)\s*\|\s*([A-Za-z][A-Za-z ]*?)\s*\((\d)\)\s*\|\s*([A-Za-z][A-Za-z ]*?)\s*\((\d)\)\s*\|"
    r"\s*(\d)\b"
)
MATRIX_ROW = re.compile(
    r"^\|\s*\*{0,2}(Very high|High|Medium|Low|Very low)\s*\(([1-5])\)\*{0,2}\s*\|((?:\s*\d\s*\|){5})"
)
BACKTICKED = re.compile(r"`([^`]+)`")
TEST_REF = re.compile(r"^(tests/[\w./-]+\.py)::([\w:]+)$")
CODE_REF = re.compile(r"^([\w.-]+(?:/[\w.-]+)+)(?:::([\w.]+))?$")

SEVERITY = {1: "Minor", 2: "Significant", 3: "Considerable", 4: "Major", 5: "Catastrophic"}
LIKELIHOOD = {1: "Very low", 2: "Low", 3: "Medium", 4: "High", 5: "Very high"}
# The DCB0129/DCB0160 clinical risk matrix: RISK[likelihood][severity] is the risk rating 1-5.
RISK = {
    5: {1: 3, 2: 4, 3: 4, 4: 5, 5: 5},
    4: {1: 2, 2: 3, 3: 3, 4: 4, 5: 5},
    3: {1: 2, 2: 2, 3: 3, 4: 3, 5: 4},
    2: {1: 1, 2: 2, 3: 2, 4: 3, 5: 4},
    1: {1: 1, 2: 1, 3: 2, 4: 2, 5: 3},
}
HIGHEST_ACCEPTABLE_RESIDUAL = 3  # 4 and 5 are unacceptable: the hazard needs more control before release

REPORT_OPTION = "--hazard-report"


# --- the log --------------------------------------------------------------------------------------------------


@dataclass
class Control:
    """One row of a hazard's controls table: the code that implements it and the tests that prove it."""

    control_id: str
    line: int
    code: list[tuple[str, str | None]] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)


@dataclass
class Hazard:
    """One hazard's section of the log."""

    hazard_id: str
    line: int
    tests: set[str] = field(default_factory=set)  # every test named anywhere in the section
    controls: list[Control] = field(default_factory=list)
    risks: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # Initial/Residual: severity, likelihood, risk


@dataclass
class HazardLog:
    """What the log says, and what is wrong with how it says it."""

    hazards: dict[str, Hazard]
    problems: list[str]
    matrix: dict[int, dict[int, int]]


def _references(text: str) -> tuple[list[str], list[tuple[str, str | None]]]:
    """The tests (`tests/x.py::test_y`) and the code (`pkg/mod.py::name`, `path/file`) named in backticks."""
    tests: list[str] = []
    code: list[tuple[str, str | None]] = []
    for token in BACKTICKED.findall(text):
        token = token.strip()
        test = TEST_REF.match(token)
        if test:
            tests.append(f"{test.group(1)}::{test.group(2)}")
            continue
        found = CODE_REF.match(token)
        if found and not token.startswith("tests/"):
            code.append((found.group(1), found.group(2)))
    return tests, code


def parse_log(text: str) -> HazardLog:
    """Read the hazards, their controls, risks and tests out of the log's markdown."""
    hazards: dict[str, Hazard] = {}
    problems: list[str] = []
    matrix: dict[int, dict[int, int]] = {}
    current: Hazard | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        heading = HAZARD_HEADING.match(line)
        if heading:
            hazard_id = heading.group(1)
            if hazard_id in hazards:
                problems.append(
                    f"{hazard_id}: the log has two sections for it (lines {hazards[hazard_id].line} and {number})"
                )
            current = hazards.setdefault(hazard_id, Hazard(hazard_id, number))
            continue
        if SECTION_HEADING.match(line):
            current = None  # another section: what follows belongs to no hazard
            continue
        row = MATRIX_ROW.match(line)
        if row and current is None:
            cells = [int(cell) for cell in row.group(3).replace("|", " ").split()]
            matrix[int(row.group(2))] = dict(enumerate(cells, start=1))
            continue
        if current is None:
            continue
        tests, code = _references(line)
        current.tests.update(tests)
        control = CONTROL_ROW.match(line)
        if control:
            control_id = control.group(1)
            if not control_id.startswith(current.hazard_id + "."):
                problems.append(
                    f"{control_id}: listed under {current.hazard_id} (line {number}); number it {current.hazard_id}.n"
                )
            current.controls.append(Control(control_id, number, code, tests))
            continue
        risk = RISK_ROW.match(line)
        if risk:
            kind, severity_name, severity, likelihood_name, likelihood, rating = risk.groups()
            s, li, r = int(severity), int(likelihood), int(rating)
            if SEVERITY.get(s) != severity_name or LIKELIHOOD.get(li) != likelihood_name:
                problems.append(
                    f"{current.hazard_id}: {kind.lower()} risk (line {number}) names severity '{severity_name} ({s})' "
                    f"and likelihood '{likelihood_name} ({li})'; the matrix calls them "
                    f"'{SEVERITY.get(s, '?')} ({s})' and '{LIKELIHOOD.get(li, '?')} ({li})'"
                )
            current.risks[kind] = (s, li, r)
    return HazardLog(hazards, problems, matrix)


def check_log(log: HazardLog, root: Path) -> list[str]:
    """Problems in the log alone: structure, risk ratings, controls without tests or code, code that is gone."""
    problems = list(log.problems)
    if not log.hazards:
        problems.append("the log has no hazards (sections headed '## Hnn ...')")
    if log.matrix != RISK:
        problems.append(
            "the log's risk matrix is missing or differs from DCB0129's (rows 'Very high (5)' ... 'Very low (1)', "
            "columns severity 1-5)"
        )
    for hazard in log.hazards.values():
        where = hazard.hazard_id
        for kind in ("Initial", "Residual"):
            if kind not in hazard.risks:
                problems.append(
                    f"{where}: no {kind.lower()} risk row ('| {kind} | Severity (n) | Likelihood (n) | risk |')"
                )
                continue
            severity, likelihood, rating = hazard.risks[kind]
            expected = RISK.get(likelihood, {}).get(severity)
            if expected != rating:
                problems.append(
                    f"{where}: {kind.lower()} risk says {rating}, but severity {severity} x likelihood {likelihood} "
                    f"gives {expected} on the matrix"
                )
        if "Initial" in hazard.risks and "Residual" in hazard.risks:
            initial, residual = hazard.risks["Initial"][2], hazard.risks["Residual"][2]
            if residual > initial:
                problems.append(f"{where}: residual risk {residual} is higher than the initial risk {initial}")
            if residual > HIGHEST_ACCEPTABLE_RESIDUAL:
                problems.append(f"{where}: residual risk {residual} is unacceptable (4-5): it needs more control")
        if not hazard.tests:
            problems.append(f"{where}: no test is named for this hazard")
        if not hazard.controls:
            problems.append(f"{where}: no controls table rows ('| {where}.1 | control | code | tests |')")
        for control in hazard.controls:
            if not control.tests:
                problems.append(f"{control.control_id}: the control names no test that proves it")
            if not control.code:
                problems.append(f"{control.control_id}: the control names no code that implements it")
            for path, name in control.code:
                problem = _missing_code(root, path, name)
                if problem:
                    problems.append(f"{control.control_id}: {problem}")
    return problems


def _missing_code(root: Path, path: str, name: str | None) -> str | None:
    """Why `path::name` is not in the tree, or None when it is."""
    target = root / path
    shown = f"`{path}{'::' + name if name else ''}`"
    if not target.exists():
        return f"code {shown} does not exist (no file {path})"
    if name is None:
        return None
    if target.is_dir():
        return f"code {shown}: {path} is a folder"
    text = target.read_text(encoding="utf-8", errors="replace")
    for part in name.split("."):
        if target.suffix == ".py":
            # a def, a class, an assignment, or a name imported into the module (a re-export)
            defined = re.compile(
                rf"^\s*(?:async\s+def|def|class)\s+{re.escape(part)}\b|^\s*{re.escape(part)}\s*(?::[^=\n]*)?="
                rf"|^\s*(?:from\s+\S+\s+)?import\s[^\n]*\b{re.escape(part)}\b",
                re.MULTILINE,
            )
            if not defined.search(text):
                return f"code {shown} does not exist (nothing named {part} is defined in {path})"
        elif part not in text:
            return f"code {shown} does not exist ({part} is not in {path})"
    return None


# --- the pytest plugin: runs inside the pytest process --------------------------------------------------------

_RANK = {"passed": 0, "skipped": 1, "xfailed": 2, "xpassed": 3, "failed": 4, "error": 5}


def _failure_line(text: str) -> str:
    """The assertion or exception a failure report ends on, in one line."""
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    if lines:
        return lines[0]
    rest = [line.strip() for line in text.splitlines() if line.strip()]
    return rest[-1] if rest else ""


class _Recorder:
    """Collects every test's hazard ids (before `-m hazard` deselects the rest) and how each hazard test ended;
    writes them as JSON when the session ends."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.collected: dict[str, list[str]] = {}
        self.bad_markers: dict[str, str] = {}
        self.outcomes: dict[str, dict[str, str]] = {}
        self.collect_errors: dict[str, str] = {}

    @pytest.hookimpl(tryfirst=True)  # before the mark plugin deselects: the check needs every test's markers
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            ids: set[str] = set()
            for marker in item.iter_markers("hazard"):
                if not marker.args:
                    self.bad_markers[item.nodeid] = "has a hazard marker with no hazard id"
                for arg in marker.args:
                    if isinstance(arg, str) and HAZARD_ID.match(arg):
                        ids.add(arg)
                    else:
                        self.bad_markers[item.nodeid] = (
                            f"has a hazard marker naming {arg!r}, not a hazard id like 'H01'"
                        )
            self.collected[item.nodeid] = sorted(ids)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # a test file that cannot be collected may hold hazard tests: that is a failure of the check
        if report.failed:
            self.collect_errors[report.nodeid or "(session)"] = _failure_line(str(report.longrepr))[:300]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # how each test ended: the worst of its setup, call and teardown
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
        elif report.when == "call" and hasattr(report, "wasxfail"):
            outcome = "xpassed"
        else:
            outcome = "passed"
        previous = self.outcomes.get(report.nodeid)
        if previous is not None and _RANK[outcome] <= _RANK[previous["outcome"]]:
            return
        detail = ""
        if outcome in ("failed", "error"):
            detail = _failure_line(report.longreprtext)
        elif outcome == "xfailed":
            detail = str(getattr(report, "wasxfail", ""))
        elif outcome == "skipped" and isinstance(report.longrepr, tuple):
            detail = str(report.longrepr[2])
        self.outcomes[report.nodeid] = {"outcome": outcome, "detail": detail[:300]}

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        data = {
            "collected": self.collected,
            "bad_markers": self.bad_markers,
            "outcomes": self.outcomes,
            "collect_errors": self.collect_errors,
            "exitstatus": int(exitstatus),
        }
        Path(self.path).write_text(json.dumps(data, indent=1), encoding="utf-8")


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--hazard-report FILE`: where the run writes the markers and outcomes it saw."""
    parser.addoption(REPORT_OPTION, default=None, help="write hazard markers and test outcomes to this JSON file")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (a tree without the project's configuration runs too) and the recorder."""
    config.addinivalue_line("markers", "hazard(*ids): proves a control of the named hazards in the hazard log")
    path = config.getoption(REPORT_OPTION)
    if path:
        config.pluginmanager.register(_Recorder(path), "hazard-recorder")


# --- comparing the log with the run ---------------------------------------------------------------------------


def base_id(nodeid: str) -> str:
    """`tests/x.py::test_y[param]` -> `tests/x.py::test_y`: the log names test functions, not their parameters."""
    return nodeid.split("[", 1)[0]


def compare(log: HazardLog, run: dict[str, Any], *, ran: bool) -> tuple[list[str], dict[str, str]]:
    """Problems found by comparing the log with the markers and outcomes of the run; and each test's outcome."""
    problems: list[str] = []
    for nodeid, error in sorted(run["collect_errors"].items()):
        problems.append(
            f"{nodeid}: cannot be collected, so its hazard tests cannot be checked: {error.splitlines()[-1:]}"
        )
    marked: dict[str, set[str]] = defaultdict(set)  # test -> hazard ids on its marker
    exists: set[str] = set()
    for nodeid, ids in run["collected"].items():
        test = base_id(nodeid)
        exists.add(test)
        marked[test].update(ids)
    for nodeid, why in sorted(run["bad_markers"].items()):
        problems.append(f"{base_id(nodeid)}: {why}")
    named: dict[str, set[str]] = defaultdict(set)  # test -> hazards naming it in the log
    for hazard in log.hazards.values():
        for test in hazard.tests:
            named[test].add(hazard.hazard_id)
    for test in sorted(named):
        if test not in exists:
            for hazard_id in sorted(named[test]):
                problems.append(f"{hazard_id}: the log names {test}, which does not exist")
            continue
        for hazard_id in sorted(named[test] - marked[test]):
            problems.append(
                f'{hazard_id}: {test} is named under {hazard_id} in the log but not marked @pytest.mark.hazard("{hazard_id}")'
            )
    for test in sorted(marked):
        for hazard_id in sorted(marked[test]):
            if hazard_id not in log.hazards:
                problems.append(f"{hazard_id}: {test} is marked {hazard_id}, a hazard that is not in the log")
            elif hazard_id not in named[test]:
                problems.append(f"{hazard_id}: {test} is marked {hazard_id} but not named under {hazard_id} in the log")
    outcomes: dict[str, str] = {}
    if not ran:
        return problems, outcomes
    details: dict[str, str] = {}
    for nodeid, result in run["outcomes"].items():
        test = base_id(nodeid)
        outcome = result["outcome"]
        # a parametrised test counts as passed when every parameter that ran passed
        if test not in outcomes or _RANK[outcome] > _RANK[outcomes[test]]:
            outcomes[test] = outcome
            details[test] = result.get("detail", "")
    for test in sorted(t for t in marked if marked[t]):
        if test not in outcomes:
            problems.append(f"{', '.join(sorted(marked[test]))}: {test} did not run")
            continue
        outcome = outcomes[test]
        if outcome in ("failed", "error", "xpassed", "xfailed"):
            words = {
                "failed": "failed",
                "error": "errored",
                "xpassed": "passed although marked as expected to fail",
                "xfailed": "is expected to fail (a known defect), so it proves nothing",
            }[outcome]
            why = f": {details[test]}" if details.get(test) else ""
            problems.append(f"{', '.join(sorted(marked[test]))}: {test} {words}{why}")
    for hazard in log.hazards.values():
        for control in hazard.controls:
            present = [t for t in control.tests if t in outcomes]
            if present and all(outcomes[t] == "skipped" for t in present):
                skipped = "; ".join(f"{t} ({details.get(t) or 'skipped'})" for t in present)
                problems.append(
                    f"{control.control_id}: every test of this control was skipped, nothing proved it: {skipped}"
                )
    return problems, outcomes


# --- running it -----------------------------------------------------------------------------------------------


def run_pytest(root: Path, tests: Path, report: Path, *, collect_only: bool, extra: list[str]) -> int:
    """One pytest run of the hazard tests with this file as a plugin; returns pytest's exit status."""
    here = Path(__file__).resolve().parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(here), str(root), env.get("PYTHONPATH", "")) if p)
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(tests),
        "-m",
        "hazard",
        "-p",
        "check_hazards",
        f"{REPORT_OPTION}={report}",
        "--rootdir",
        str(root),
        "-p",
        "no:cacheprovider",
        "--continue-on-collection-errors",
        *(["--collect-only", "-qq"] if collect_only else ["-q"]),
        *extra,
    ]
    print("hazard check: " + " ".join(command[2:]), flush=True)
    if not collect_only:  # the test run's own report is shown as it goes
        return subprocess.run(command, cwd=root, env=env, check=False).returncode
    # collecting only: pytest's list of files is noise unless something went wrong
    done = subprocess.run(command, cwd=root, env=env, check=False, capture_output=True, text=True)
    if done.returncode not in (0, 5):
        print(done.stdout + done.stderr, end="", flush=True)
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    """Check the log, the markers and (unless --no-run) the hazard tests; 0 when all is well, 1 when not."""
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=repo, help="the repository root (default: this checkout)")
    parser.add_argument("--log", type=Path, help="the hazard log (default: ROOT/docs/safety/hazard-log.md)")
    parser.add_argument("--tests", type=Path, help="the test tree (default: ROOT/tests)")
    parser.add_argument("--no-run", action="store_true", help="check the log and the markers; run no test")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    log_path = (args.log or root / "docs" / "safety" / "hazard-log.md").resolve()
    tests = (args.tests or root / "tests").resolve()
    try:
        text = log_path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"hazard check: cannot read the hazard log {log_path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not tests.is_dir():
        print(f"hazard check: no test folder {tests}", file=sys.stderr)
        return 2
    log = parse_log(text)
    problems = check_log(log, root)
    with tempfile.TemporaryDirectory(prefix="hazard-check-") as scratch:
        report = Path(scratch) / "report.json"
        status = run_pytest(root, tests, report, collect_only=args.no_run, extra=args.pytest_args)
        if not report.is_file():
            print(f"hazard check: pytest stopped before it reported anything (exit status {status})", file=sys.stderr)
            return 1
        run = json.loads(report.read_text(encoding="utf-8"))
    found, outcomes = compare(log, run, ran=not args.no_run)
    problems += found
    if status not in (0, 1, 5) and not problems:  # 2 interrupted, 3 internal error, 4 usage error
        problems.append(f"pytest ended with exit status {status} without a failing hazard test: see its output above")
    if problems:
        print(f"\nhazard check FAILED ({len(problems)} problem{'s' if len(problems) != 1 else ''}):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    tests_named = {t for h in log.hazards.values() for t in h.tests}
    controls = sum(len(h.controls) for h in log.hazards.values())
    summary = f"{len(log.hazards)} hazards, {controls} controls, {len(tests_named)} tests named"
    if not args.no_run:
        passed = sum(1 for t in tests_named if outcomes.get(t) == "passed")
        summary += f", {passed} passed, {len(tests_named) - passed} skipped"
    print(f"\nhazard check passed: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
