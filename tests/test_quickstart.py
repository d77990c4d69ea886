"""The README's first command, `python3 -m pip install . && python3 -m triage_app`, works from a fresh clone.

Run from the clone's root, `-m` imports the source folder ./triage_app, not the installed package; resources/
and db/ sit beside it (installed as triage_app.resources and triage_app.db), so the package maps them itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "tests" / "data" / "shared-examples" / "referrals" / "01_ready_for_mdt.json"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points the app or Python at this checkout or the user's data."""
    dropped = ("PYTHONPATH", "PYTHONSAFEPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("TRIAGE_APP_")}
    env.update(extra)
    return env


def run(argv: list[str], cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )


def copy_checkout(target: Path) -> Path:
    """The files a clone has that matter here: the package, resources/, db/ and pyproject.toml."""
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("triage_app", "resources", "db"):
        shutil.copytree(REPO / folder, target / folder, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", target / "pyproject.toml")
    return target


IMPORT_BOTH = (
    "import triage_app.resources, triage_app.db, triage_app.db.versions; "
    "print(triage_app.resources.__file__); print(triage_app.db.__file__)"
)


def test_python_m_from_a_checkout_root_finds_its_resources(tmp_path: Path) -> None:
    # The editable install of this checkout (if any) would also find resources, but from REPO: the copy's own
    # files must be the ones used, as in a clone with a plain `pip install .`.
    checkout = copy_checkout(tmp_path / "clone")
    imported = run([sys.executable, "-c", IMPORT_BOTH], cwd=checkout)
    assert imported.returncode == 0, imported.stderr
    resources_file, db_file = (Path(line) for line in imported.stdout.splitlines())
    assert resources_file == checkout / "resources" / "__init__.py"
    assert db_file == checkout / "db" / "__init__.py"

    scored = run([sys.executable, "-m", "triage_app", "score", str(EXAMPLE), "--as-of", "2026-11-02"], cwd=checkout)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["outcome"] == "ready_for_mdt"


def test_an_installed_layout_keeps_its_own_resources(tmp_path: Path) -> None:
    # As pip and PyInstaller lay it out: resources/ inside the package. A look-alike checkout around it
    # (pyproject.toml, resources/, db/) must not take over.
    site = copy_checkout(tmp_path / "site")
    shutil.copytree(REPO / "resources", site / "triage_app" / "resources")
    shutil.copytree(REPO / "db", site / "triage_app" / "db")
    imported = run([sys.executable, "-c", IMPORT_BOTH], cwd=site)
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.splitlines()[0]) == site / "triage_app" / "resources" / "__init__.py"


def test_another_projects_folders_are_not_taken(tmp_path: Path) -> None:
    checkout = copy_checkout(tmp_path / "other")
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('name = "spd-triage-app"', 'name = "something-else"'))
    imported = run(
        [sys.executable, "-c", "import triage_app, sys; print('triage_app.resources' in sys.modules)"], cwd=checkout
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "False"


def git_root() -> Path | None:
    if shutil.which("git") is None:
        return None
    found = run(["git", "rev-parse", "--show-toplevel"], cwd=REPO)
    return Path(found.stdout.strip()) if found.returncode == 0 else None


@pytest.mark.slow
def test_readme_quick_start_from_a_fresh_clone(tmp_path: Path) -> None:
    """What a newcomer does: clone, `pip install .` into a fresh venv, `python -m triage_app` from the root.

    A fresh venv without the system site-packages: the editable install of this checkout registers an import
    finder for triage_app.resources that would hide the bug. Committed work only (a clone has no other).
    """
    root = git_root()
    if root is None:
        pytest.skip("not a git checkout, or no git: nothing to clone")
    clone = tmp_path / "clone"
    cloned = run(["git", "clone", "--quiet", str(root), str(clone)], cwd=tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    installed = run(
        [str(python), "-m", "pip", "install", "--quiet", "."], cwd=clone, timeout=600, PIP_DISABLE_PIP_VERSION_CHECK="1"
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    home = tmp_path / "home"  # the app's settings go here, not into the user's own
    started = run(
        [str(python), "-m", "triage_app", "--smoke", "--data-dir", str(tmp_path / "data")],
        cwd=clone,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert "smoke: started and opened" in started.stdout


def test_every_package_of_the_app_is_installed() -> None:
    """`pip install .` ships only the packages pyproject.toml lists: a new package left out installs an app that
    cannot start (the CLI package once was)."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "triage_app").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk - listed == set()
