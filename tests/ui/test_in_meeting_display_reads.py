"""What the in-meeting screen reads beyond the agenda (services.meeting_display) and how it words it (text.py):
the consultant's standing triage decision, who and when, or plainly none; the immunoresistance test."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.ui.test_in_meeting_display import RAW_CODE
from tests.ui.test_meeting_journey import plain
from tests.ui.test_meetings_ui import filled_meeting
from triage_app.domain.meetings import build_agenda
from triage_app.services import meetings
from triage_app.services.app import local_today
from triage_app.services.meeting_display import case_display
from triage_app.services.referrals import get_referral
from triage_app.services.triage import decide_triage
from triage_app.services.users import sign_in
from triage_app.storage.engine import Database
from triage_app.ui.meetings.text import case_html, decision_text


@pytest.mark.hazard("H14", "H06", "H16")
def test_the_decision_is_said_with_who_and_when_or_plainly_not_yet(
    qapp: Any, seed: Callable[..., list[int]], gui_db: Database, rules: Any
) -> None:
    confirmed, overridden = seed(
        (31, {"patient__family_name": "Hollowmere", "severity__twstrs_total": 60}),
        (
            32,
            {
                "patient__family_name": "Ivesworth",
                "severity__twstrs_total": 50,
                "botulinum_toxin__cycles": 1,  # not yet refractory by the rules
                "botulinum_toxin__immunoresistance_tested": None,
            },
        ),
    )
    consultant = sign_in(gui_db, login="cons-test")
    row = get_referral(gui_db, referral_id=confirmed).row
    decide_triage(gui_db, actor=consultant, referral_id=confirmed, expected_version=row.version)
    row = get_referral(gui_db, referral_id=overridden).row
    assert row.outcome == "not_yet_refractory"
    decide_triage(
        gui_db,
        actor=consultant,
        referral_id=overridden,
        expected_version=row.version,
        override_outcome="ready_for_mdt",
        reason="Toxin stopped for side effects: discuss now",
    )
    meeting_id = filled_meeting(gui_db)
    shown = case_display(gui_db, meeting_id=meeting_id, actor=consultant)
    assert set(shown) == {confirmed, overridden}
    one, two = shown[confirmed], shown[overridden]
    assert (one.decision_kind, one.decided_outcome, one.decided_by) == ("confirmed", "ready_for_mdt", "Dr Con Sultant")
    assert (two.decision_kind, two.computed_outcome, two.decision_reason) == (
        "overridden",
        "not_yet_refractory",
        "Toxin stopped for side effects: discuss now",
    )
    assert (one.immunoresistance_tested, two.immunoresistance_tested) == (True, None)

    detail = meetings.get_meeting(gui_db, meeting_id=meeting_id, rules=rules, actor=consultant)
    info, inputs = meetings.agenda_inputs(gui_db, meeting_id=meeting_id, actor=consultant)
    agenda = {c.referral_id: c for c in build_agenda(info, inputs, quorum_roles=(), generated_at=_now()).cases}
    texts = {}
    for case in detail.cases:
        texts[case.referral_id] = plain(case_html(case, agenda[case.referral_id], shown[case.referral_id]))
        assert not RAW_CODE.search(texts[case.referral_id]), RAW_CODE.findall(texts[case.referral_id])
    when = r"\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d"
    assert re.search(rf"Consultant's decision\nConfirmed as Ready for MDT by Dr Con Sultant, {when}", texts[confirmed])
    assert re.search(
        rf"Consultant's decision\nOverridden to Ready for MDT by Dr Con Sultant, {when} \(the rules suggested not yet "
        r"refractory\); reason: Toxin stopped for side effects: discuss now",
        texts[overridden],
    )
    assert "immunoresistance tested" in texts[confirmed]
    assert "immunoresistance test not recorded" in texts[overridden]
    assert "⚠ Cautions\nHead tremor: tremor is not changed by SPD." in texts[confirmed]

    # A case whose decision lapsed says so plainly, even beside a decision read before it lapsed (H16): the app's
    # suggestion is not a decision.
    case = next(c for c in detail.cases if c.referral_id == confirmed)
    assert case.row is not None
    lapsed = replace(case, row=replace(case.row, decided_outcome=None, decision_kind=None))
    assert (
        decision_text(lapsed, shown[confirmed]) == "Not yet confirmed by a consultant (the rules suggest ready for MDT)"
    )
    assert decision_text(lapsed, None) == "Not yet confirmed by a consultant (the rules suggest ready for MDT)"
    assert decision_text(case, None) == "Reading the decision…"


def _now() -> Any:
    from datetime import UTC, datetime

    assert local_today()  # the meeting is today's: weeks waiting are counted to now
    return datetime.now(UTC)
