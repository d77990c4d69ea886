"""Workflow states and transitions."""

from __future__ import annotations

import itertools

from triage_app.domain.nhs_number import make_test_nhs_number, nhs_number_problem
from triage_app.domain.scoring import OUTCOMES
from triage_app.domain.workflow import STATUS_FOR_OUTCOME, STATUS_LABELS, STATUSES, TRANSITIONS, can_move


def test_the_issue_workflow_is_possible() -> None:
    path = ["received", "ready_for_mdt", "listed", "discussed", "closed"]
    assert all(can_move(a, b) for a, b in itertools.pairwise(path))
    for triaged in ("awaiting_information", "redirected", "not_yet_refractory", "ready_for_mdt"):
        assert can_move("received", triaged)


def test_impossible_moves() -> None:
    assert not can_move("received", "discussed")
    assert not can_move("closed", "listed")
    assert not can_move("nonsense", "received")


def test_every_status_has_a_label_and_moves() -> None:
    assert set(STATUS_LABELS) == set(STATUSES) == set(TRANSITIONS)
    assert set(STATUS_FOR_OUTCOME) == set(OUTCOMES)


def test_test_range_numbers_are_valid_and_distinct() -> None:
    numbers = [make_test_nhs_number(serial) for serial in range(0, 2000)]
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("999") and nhs_number_problem(n) is None for n in numbers)
    assert make_test_nhs_number(100_000) == make_test_nhs_number(0)


def test_listing_moves_belong_to_meetings_and_triage_ends_at_the_mdt() -> None:
    from triage_app.domain.workflow import TRIAGEABLE, meeting_managed

    assert meeting_managed("ready_for_mdt", "listed") and meeting_managed("listed", "discussed")
    assert not meeting_managed("received", "ready_for_mdt")
    assert "listed" not in TRIAGEABLE and "discussed" not in TRIAGEABLE and "received" in TRIAGEABLE
