"""The queue window reads the 18-week clock for today: breaches first from the Wks header, the RTT risk view and
its lines, and the triage panel's weeks and caution, for referrals scored weeks ago (no RTT caution stored).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt

from tests.factories import referral
from triage_app.domain.formats import format_date
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.rules import Rules
from triage_app.domain.scoring import RTT_FLAG, RttClock
from triage_app.services.app import local_today
from triage_app.services.referrals import get_referral, register_referral
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui.main_window import MainWindow
from triage_app.ui.queue_model import COL_FLAGS, COL_NHS, COL_WEEKS, SORT_BREACHES
from triage_app.ui.triage_panel import TriagePanel

#: name -> (days waiting today, TWSTRS total): severity orders each band by priority.
WAITING = {
    "new": (3, 85),
    "eleven": (12 * 7 - 1, 70),
    "twelve": (12 * 7, 20),
    "seventeen": (18 * 7 - 1, 60),
    "eighteen": (18 * 7, 10),
    "thirty": (30 * 7, 40),
}


@pytest.fixture
def scored_on_arrival(gui_db: Database, rules: Rules) -> dict[str, str]:
    """One referral per WAITING entry, each scored the day it arrived; name -> NHS number as the queue shows it."""
    actor = sign_in(gui_db, login="admin-test")
    shown = {}
    for serial, (name, (days, severity)) in enumerate(WAITING.items(), start=31):
        received = local_today() - timedelta(days=days)
        source = referral(serial, as_of=received, received_on=received.isoformat(), severity__twstrs_total=severity)
        saved = register_referral(gui_db, actor=actor, referral=source, rules=rules, as_of=received)
        assert RTT_FLAG not in saved.assessment.flags
        shown[name] = format_nhs_number(source.patient.nhs_number)
    return shown


def shown(window: MainWindow, column: int) -> list[str]:
    model = window.model
    return [model.data(model.index(row, column)) for row in range(model.rowCount())]


def wait_idle(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.worker.pending == 0 and window.model.all_ids_known, timeout=10_000)


def click_header(qtbot: Any, window: MainWindow, column: int) -> None:
    header = window.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))
    wait_idle(qtbot, window)


@pytest.mark.hazard("H07", "H08")
def test_a_click_on_wks_shows_breaches_first(
    qtbot: Any, open_window: Callable[..., MainWindow], scored_on_arrival: dict[str, str]
) -> None:
    window = open_window()
    click_header(qtbot, window, COL_WEEKS)
    assert window.model.view is not None and window.model.view.sort == SORT_BREACHES
    order = [scored_on_arrival[name] for name in ("thirty", "eighteen", "seventeen", "eleven", "twelve", "new")]
    # 18 weeks or more (by priority), then the warning weeks (by priority), then the rest.
    assert shown(window, COL_NHS) == [order[0], order[1], order[2], order[4], order[3], order[5]]
    assert [w.split()[-1] for w in shown(window, COL_WEEKS)] == ["‼", "‼", "!", "!", "11", "0"]
    click_header(qtbot, window, COL_WEEKS)  # again: the other way round
    assert shown(window, COL_NHS)[0] == scored_on_arrival["new"]
    window.model.show_breaches_first()
    wait_idle(qtbot, window)
    assert shown(window, COL_NHS)[:2] == order[:2]


@pytest.mark.hazard("H07")
def test_the_rtt_view_and_cautions_are_todays(
    qtbot: Any, open_window: Callable[..., MainWindow], scored_on_arrival: dict[str, str]
) -> None:
    window = open_window()
    window.sidebar.view_chosen.emit("flag", RTT_FLAG)
    wait_idle(qtbot, window)
    at_risk = {scored_on_arrival[n] for n in ("twelve", "seventeen", "eighteen", "thirty")}
    assert set(shown(window, COL_NHS)) == at_risk  # none of them was flagged when scored
    assert all("RTT risk" in cautions for cautions in shown(window, COL_FLAGS))
    window.clear_filters()
    wait_idle(qtbot, window)
    flags = dict(zip(shown(window, COL_NHS), shown(window, COL_FLAGS), strict=True))
    assert "RTT risk" not in flags[scored_on_arrival["eleven"]] and "RTT risk" in flags[scored_on_arrival["twelve"]]


@pytest.mark.hazard("H07", "H16")
def test_the_panel_shows_todays_weeks_and_caution(
    qtbot: Any, gui_db: Database, rules: Rules, scored_on_arrival: dict[str, str]
) -> None:
    actor = sign_in(gui_db, login="admin-test")
    detail = get_referral(gui_db, referral_id=5)  # "eighteen": 18 weeks today, scored on arrival
    assert format_nhs_number(detail.referral.patient.nhs_number) == scored_on_arrival["eighteen"]
    assert RTT_FLAG not in (detail.assessment.flags if detail.assessment else ())
    today = RttClock.of(rules, local_today())
    panel = TriagePanel(clock=lambda: today)
    qtbot.addWidget(panel)
    panel.show_detail(detail, actor)
    assert "18 weeks waiting: past the 18-week referral-to-treatment standard" in panel.patient.text()
    assert f"(today, {format_date(local_today())})" in panel.patient.text()
    assert "RTT risk" in panel.cautions.text()
    unwired = TriagePanel()
    qtbot.addWidget(unwired)
    unwired.show_detail(detail, actor)  # no clock: says the caution is as scored, and when
    assert "RTT risk" not in unwired.cautions.text().split("\n(")[0]
    assert "as scored on" in unwired.cautions.text() and "not read for today" in unwired.cautions.text()
    unwired.set_clock(lambda: today)
    assert "RTT risk" in unwired.cautions.text().split("\n(")[0]


@pytest.mark.hazard("H07", "H08")
def test_a_coordinator_puts_breaches_first_from_the_keyboard_and_the_panel_reads_todays_clock(
    qtbot: Any, open_window: Callable[..., MainWindow], scored_on_arrival: dict[str, str]
) -> None:
    """The whole task in the real window: Ctrl+Shift+B (View > Breaches first), then the top row's panel."""
    window = open_window("coord-test")
    window.activateWindow()
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_idle(qtbot, window)
    assert window.model.view is not None and window.model.view.sort == SORT_BREACHES
    assert shown(window, COL_NHS)[:2] == [scored_on_arrival["thirty"], scored_on_arrival["eighteen"]]
    header = window.table.horizontalHeader()
    assert header.sortIndicatorSection() == COL_WEEKS  # the header says how the queue is ordered
    window.table.selectRow(1)  # the second breach: 18 weeks today, scored the day it arrived (no caution stored)
    qtbot.waitUntil(lambda: scored_on_arrival["eighteen"] in window.panel.patient.text(), timeout=10_000)
    assert "18 weeks waiting: past the 18-week referral-to-treatment standard" in window.panel.patient.text()
    assert "RTT risk" in window.panel.cautions.text() and "not read for today" not in window.panel.cautions.text()
    rtt_view = window.sidebar.item_for("flag", RTT_FLAG)
    assert rtt_view is not None
    qtbot.waitUntil(lambda: rtt_view.text(1) == "4", timeout=10_000)  # today's count: none was flagged when scored
