"""SPD referral triage: queue, scoring against the NICE-derived rules, and MDT agendas."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

__version__ = "0.1.0"

_PROJECT_NAME = "spd-triage-app"
_CHECKOUT_SUBPACKAGES = ("resources", "db")  # top-level folders installed as triage_app.resources, triage_app.db


def _checkout_root(package_dir: Path) -> Path | None:
    """The repository root when this package is the source folder of a checkout, else None."""
    if (package_dir / "resources" / "__init__.py").is_file():
        return None  # installed (pip, PyInstaller): resources/ and db/ sit inside the package already
    root = package_dir.parent
    if not ((root / "resources" / "__init__.py").is_file() and (root / "db" / "env.py").is_file()):
        return None
    try:
        with (root / "pyproject.toml").open("rb") as handle:
            name = tomllib.load(handle).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if name == _PROJECT_NAME else None


def _load_checkout_subpackages() -> None:
    """Load the checkout's top-level resources/ and db/ as triage_app.resources and triage_app.db.

    pyproject.toml installs those folders inside the package (`package-dir`), and PyInstaller places them
    there too. But `python3 -m triage_app` run from the root of a clone imports the source folder ./triage_app
    (the current directory comes first on sys.path), which shadows the installed package and has no such
    subpackages: the README's first command then fails. Only these two names are mapped, so the checkout's
    other folders (tests, scripts) never become part of the package.
    """
    root = _checkout_root(Path(__file__).resolve().parent)
    if root is None:
        return
    package = sys.modules[__name__]
    for name in _CHECKOUT_SUBPACKAGES:
        full_name = f"{__name__}.{name}"
        if full_name in sys.modules:
            continue
        folder = root / name
        spec = importlib.util.spec_from_file_location(
            full_name, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        if spec is None or spec.loader is None:  # pragma: no cover - a file location always has a loader
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[full_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[full_name]
            raise
        setattr(package, name, module)


_load_checkout_subpackages()
