"""Every status colour the app paints reads at 4.5:1 or better (WCAG 2 AA) on its background, in the light and the
dark scheme: criteria met / not met / unknown, errors, cautions, changed-elsewhere notes, 18-week breach and
warning rows, the read-only banner and the meeting screen's notes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QColor

from triage_app.ui.theme import (
    FIXED_PAIRS,
    PAINTED,
    SCHEME_COLOURS,
    contrast_ratio,
    painted_colour,
    scheme_colour,
)

AA = 4.5
UI = Path(__file__).resolve().parents[2] / "triage_app" / "ui"


def test_contrast_ratio_matches_wcag() -> None:
    assert contrast_ratio(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert contrast_ratio(QColor("#777777"), QColor("#ffffff")) == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize(("foreground", "background"), PAINTED, ids=lambda name: name)
def test_every_painted_pair_reads_in_both_schemes(qapp: Any, dark: bool, foreground: str, background: str) -> None:
    ratio = contrast_ratio(painted_colour(foreground, dark), painted_colour(background, dark))
    assert ratio >= AA, f"{foreground} on {background} ({'dark' if dark else 'light'}): {ratio:.2f}:1"


@pytest.mark.parametrize(("foreground", "background"), FIXED_PAIRS)
def test_fixed_colour_pairs_read(foreground: str, background: str) -> None:
    assert contrast_ratio(QColor(foreground), QColor(background)) >= AA


def test_every_scheme_colour_is_checked() -> None:
    checked = {name for pair in PAINTED for name in pair}
    assert set(SCHEME_COLOURS) <= checked


def test_scheme_colour_follows_the_scheme() -> None:
    assert scheme_colour("met", dark=False) != scheme_colour("met", dark=True)


def test_my_windows_paint_no_fixed_status_colour() -> None:
    """The form, the queue and the triage panel take their status colours from the theme (both schemes)."""
    for name in ("referral_form.py", "queue_model.py", "queue_pane.py", "triage_panel.py"):
        text = (UI / name).read_text(encoding="utf-8")
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("STATUS_COLOURS ="))
        assert not re.search(r"color:\s*#|QColor\(\d|QColor\(\"#", code), name
