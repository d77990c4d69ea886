"""tools/check_hazards.py on small invented hazard logs and test trees: each way the log and the tests can
disagree, and a failing hazard test, makes it fail with a message naming the hazard and the test."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECKER = REPO / "tools" / "check_hazards.py"

MATRIX = """\
| likelihood \\ severity | Minor (1) | Significant (2) | Considerable (3) | Major (4) | Catastrophic (5) |
|---|---|---|---|---|---|
| Very high (5) | 3 | 4 | 4 | 5 | 5 |
| High (4) | 2 | 3 | 3 | 4 | 5 |
| Medium (3) | 2 | 2 | 3 | 3 | 4 |
| Low (2) | 1 | 2 | 2 | 3 | 4 |
| Very low (1) | 1 | 1 | 2 | 2 | 3 |
"""

GOOD_LOG = f"""\
# Hazard log (invented)

## Risk matrix

{MATRIX}
## H01 Wrong patient

| | severity | likelihood | risk |
|---|---|---|---|
| Initial | Major (4) | Medium (3) | 3 |
| Residual | Major (4) | Very low (1) | 2 |

| id | control | code | proved by |
|---|---|---|---|
| H01.1 | the guard refuses | `app/guard.py::refuse` | `tests/test_guard.py::test_refuses` |

## H02 Duplicate referral

| | severity | likelihood | risk |
|---|---|---|---|
| Initial | Considerable (3) | Medium (3) | 3 |
| Residual | Considerable (3) | Low (2) | 2 |

| id | control | code | proved by |
|---|---|---|---|
| H02.1 | one per patient | `app/guard.py::Guard.once` | `tests/test_guard.py::test_once`, `tests/test_guard.py::TestBoth::test_both` |

## Not a hazard

`tests/test_guard.py::test_plain` is mentioned here and belongs to no hazard.
"""

GOOD_TESTS = """\
import pytest


@pytest.mark.hazard("H01")
def test_refuses():
    assert True


@pytest.mark.hazard("H02")
@pytest.mark.parametrize("n", [1, 2])
def test_once(n):
    assert n


class TestBoth:
    @pytest.mark.hazard("H02")
    def test_both(self):
        assert True


def test_plain():
    assert True
"""

GUARD = """\
def refuse():
    return True


class Guard:
    def once(self):
        return 1
"""


def tree(tmp_path: Path, log: str = GOOD_LOG, tests: str = GOOD_TESTS, **more: str) -> Path:
    """An invented repository: app code, a test file (and `more` test files by name) and the hazard log."""
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "guard.py").write_text(GUARD, encoding="utf-8")
    (root / "tests").mkdir()
    (root / "tests" / "test_guard.py").write_text(tests, encoding="utf-8")
    for name, text in more.items():
        (root / "tests" / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "docs" / "safety").mkdir(parents=True)
    (root / "docs" / "safety" / "hazard-log.md").write_text(log, encoding="utf-8")
    return root


def check(root: Path, *args: str) -> tuple[int, str]:
    """Run the checker as CI does; its exit status and everything it printed."""
    done = subprocess.run(
        [sys.executable, str(CHECKER), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def problems(output: str) -> list[str]:
    """The checker's problem lines."""
    _, _, tail = output.partition("hazard check FAILED")
    return [line.strip() for line in tail.splitlines()[1:] if line.strip()]


def test_a_log_in_line_with_passing_tests_passes(tmp_path: Path) -> None:
    code, output = check(tree(tmp_path))
    assert code == 0, output
    assert "hazard check passed: 2 hazards, 2 controls, 3 tests named, 3 passed" in output


def test_a_hazard_with_no_test_fails(tmp_path: Path) -> None:
    log = GOOD_LOG.replace(
        "| H02.1 | one per patient | `app/guard.py::Guard.once` | `tests/test_guard.py::test_once`, "
        "`tests/test_guard.py::TestBoth::test_both` |",
        "| H02.1 | one per patient | `app/guard.py::Guard.once` | (none yet) |",
    )
    code, output = check(tree(tmp_path, log=log))
    assert code == 1
    found = problems(output)
    assert "H02: no test is named for this hazard" in found
    assert "H02.1: the control names no test that proves it" in found
    assert "H02: tests/test_guard.py::test_once is marked H02 but not named under H02 in the log" in found


def test_a_test_the_log_names_that_does_not_exist_fails(tmp_path: Path) -> None:
    log = GOOD_LOG.replace("`tests/test_guard.py::test_refuses`", "`tests/test_guard.py::test_refuses_everyone`")
    code, output = check(tree(tmp_path, log=log))
    assert code == 1
    assert "H01: the log names tests/test_guard.py::test_refuses_everyone, which does not exist" in problems(output)


def test_a_marker_naming_a_hazard_not_in_the_log_fails(tmp_path: Path) -> None:
    extra = """\
        import pytest


        @pytest.mark.hazard("H09")
        def test_outcome_on_the_case_shown():
            assert True


        @pytest.mark.hazard("9")
        def test_badly_marked():
            assert True
        """
    code, output = check(tree(tmp_path, test_more=extra))
    assert code == 1
    found = problems(output)
    assert (
        "H09: tests/test_more.py::test_outcome_on_the_case_shown is marked H09, a hazard that is not in the log"
        in found
    )
    assert "tests/test_more.py::test_badly_marked: has a hazard marker naming '9', not a hazard id like 'H01'" in found


def test_a_marked_test_the_log_does_not_name_fails_and_so_does_the_reverse(tmp_path: Path) -> None:
    tests = GOOD_TESTS.replace('@pytest.mark.hazard("H01")\ndef test_refuses', "def test_refuses").replace(
        "def test_plain", '@pytest.mark.hazard("H01")\ndef test_plain'
    )
    code, output = check(tree(tmp_path, tests=tests))
    assert code == 1
    found = problems(output)
    assert (
        'H01: tests/test_guard.py::test_refuses is named under H01 in the log but not marked @pytest.mark.hazard("H01")'
        in found
    )
    # named in the log, but outside any hazard's section: it counts for none
    assert "H01: tests/test_guard.py::test_plain is marked H01 but not named under H01 in the log" in found


def test_a_failing_hazard_test_fails_naming_it_and_why(tmp_path: Path) -> None:
    tests = GOOD_TESTS.replace("def test_once(n):\n    assert n", "def test_once(n):\n    assert n == 1, 'twice'")
    code, output = check(tree(tmp_path, tests=tests))
    assert code == 1
    assert problems(output) == ["H02: tests/test_guard.py::test_once failed: AssertionError: twice"]
    assert "1 failed" in output  # pytest's own report is shown too


def test_a_test_that_errors_or_is_a_known_failure_proves_nothing(tmp_path: Path) -> None:
    tests = GOOD_TESTS.replace(
        "class TestBoth:", "@pytest.fixture\ndef broken():\n    raise RuntimeError('no database')\n\n\nclass TestBoth:"
    ).replace("def test_both(self):", "def test_both(self, broken):")
    tests = tests.replace(
        '@pytest.mark.hazard("H01")\ndef test_refuses',
        '@pytest.mark.hazard("H01")\n@pytest.mark.xfail(reason="known bug")\ndef test_refuses',
    ).replace("def test_refuses():\n    assert True", "def test_refuses():\n    assert False")
    code, output = check(tree(tmp_path, tests=tests))
    assert code == 1
    found = problems(output)
    assert "H02: tests/test_guard.py::TestBoth::test_both errored: RuntimeError: no database" in found
    assert (
        "H01: tests/test_guard.py::test_refuses is expected to fail (a known defect), so it proves nothing: known bug"
        in found
    )


def test_a_control_whose_every_test_was_skipped_fails(tmp_path: Path) -> None:
    tests = GOOD_TESTS.replace(
        '@pytest.mark.hazard("H01")\ndef test_refuses',
        '@pytest.mark.hazard("H01")\n@pytest.mark.skip(reason="needs a server")\ndef test_refuses',
    )
    code, output = check(tree(tmp_path, tests=tests))
    assert code == 1
    assert problems(output) == [
        "H01.1: every test of this control was skipped, nothing proved it: "
        "tests/test_guard.py::test_refuses (Skipped: needs a server)"
    ]


def test_a_test_file_that_cannot_be_collected_fails(tmp_path: Path) -> None:
    code, output = check(tree(tmp_path, test_broken="import not_a_module_here\n"))
    assert code == 1
    assert any(
        line.startswith("tests/test_broken.py: cannot be collected") and "not_a_module_here" in line
        for line in problems(output)
    ), output


def test_code_the_log_names_must_exist(tmp_path: Path) -> None:
    log = GOOD_LOG.replace("`app/guard.py::refuse`", "`app/guard.py::refuse_all`").replace(
        "`app/guard.py::Guard.once`", "`app/gone.py`"
    )
    code, output = check(tree(tmp_path, log=log), "--no-run")
    assert code == 1
    assert problems(output) == [
        "H01.1: code `app/guard.py::refuse_all` does not exist (nothing named refuse_all is defined in app/guard.py)",
        "H02.1: code `app/gone.py` does not exist (no file app/gone.py)",
    ]


def test_risk_ratings_follow_the_matrix(tmp_path: Path) -> None:
    log = GOOD_LOG.replace("| Initial | Major (4) | Medium (3) | 3 |", "| Initial | Major (4) | Medium (3) | 2 |")
    log = log.replace("| Residual | Considerable (3) | Low (2) | 2 |", "| Residual | Catastrophic (5) | High (4) | 5 |")
    log = log.replace("| Medium (3) | 2 | 2 | 3 | 3 | 4 |", "| Medium (3) | 1 | 2 | 3 | 3 | 4 |")
    code, output = check(tree(tmp_path, log=log), "--no-run")
    assert code == 1
    assert problems(output) == [
        "the log's risk matrix is missing or differs from DCB0129's (rows 'Very high (5)' ... 'Very low (1)', "
        "columns severity 1-5)",
        "H01: initial risk says 2, but severity 4 x likelihood 3 gives 3 on the matrix",
        "H02: residual risk 5 is higher than the initial risk 3",
        "H02: residual risk 5 is unacceptable (4-5): it needs more control",
    ]


def test_no_run_checks_the_log_and_markers_without_running_the_tests(tmp_path: Path) -> None:
    tests = GOOD_TESTS.replace("def test_refuses():\n    assert True", "def test_refuses():\n    assert False")
    code, output = check(tree(tmp_path, tests=tests), "--no-run")
    assert code == 0, output
    assert "hazard check passed: 2 hazards, 2 controls, 3 tests named" in output


def test_a_missing_log_is_named(tmp_path: Path) -> None:
    root = tree(tmp_path)
    (root / "docs" / "safety" / "hazard-log.md").unlink()
    code, output = check(root)
    assert code == 2 and "cannot read the hazard log" in output and "hazard-log.md" in output


# --- the project's own log ------------------------------------------------------------------------------------


def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_hazards_under_test", CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    return load_checker()


def test_the_projects_log_is_well_formed_and_its_code_exists(checker: ModuleType) -> None:
    """The static half of the check on docs/safety/hazard-log.md (the full check runs in CI after the suite)."""
    log = checker.parse_log((REPO / "docs" / "safety" / "hazard-log.md").read_text(encoding="utf-8"))
    assert checker.check_log(log, REPO) == []
    assert {f"H{n:02d}" for n in range(1, 17)} <= set(log.hazards)


def test_the_matrix_is_dcb0129s(checker: ModuleType) -> None:
    # the corners and the diagonal of the published matrix
    risk = checker.RISK
    assert (risk[5][5], risk[5][1], risk[1][5], risk[1][1]) == (5, 3, 3, 1)
    assert [risk[n][n] for n in range(1, 6)] == [1, 2, 3, 4, 5]
    assert all(risk[li][s] <= risk[li][s + 1] for li in risk for s in range(1, 5))  # worse harm, no lower risk
    assert all(risk[li][s] <= risk[li + 1][s] for li in range(1, 5) for s in range(1, 6))  # likelier, no lower


def test_a_name_defined_assigned_or_re_exported_counts_as_code(checker: ModuleType, tmp_path: Path) -> None:
    module = tmp_path / "app" / "mod.py"
    module.parent.mkdir()
    module.write_text(
        "from app.impl import guard as guard\nLIMIT: int = 3\n\n\nclass Box:\n    async def open(self):\n        pass\n",
        encoding="utf-8",
    )
    for name in ("guard", "LIMIT", "Box", "Box.open"):
        assert checker._missing_code(tmp_path, "app/mod.py", name) is None, name
    assert "nothing named shut" in checker._missing_code(tmp_path, "app/mod.py", "Box.shut")
    assert "is a folder" in checker._missing_code(tmp_path, "app", "guard")
