"""What the app is for, said where decisions are made (safety.md, "Intended use")."""

from __future__ import annotations

from typing import Final

INTENDED_USE: Final = (
    "SPD Referral Triage records referrals for selective peripheral denervation, checks each against the "
    "unit's approved criteria and shows, criterion by criterion, what is stated, what is missing and which "
    "cautions apply or cannot be assessed. It keeps the work-list, the 18-week clock, meetings, agendas and "
    "letters. It does not diagnose, decide that a patient is refractory or suitable, or recommend treatment: "
    "the responsible consultant checks every result against the original referral, and the quorate MDT decides."
)

INTENDED_USE_LINE: Final = (
    "Decision support only: findings against the unit's criteria, checked by the responsible consultant "
    "against the referral; the quorate MDT decides."
)
