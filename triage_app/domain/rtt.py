"""The 18-week referral-to-treatment clock: weeks waiting, the `rtt_breach_risk` caution, and the clock read on
one day (`RttClock`) that every screen and document shows.

Split from domain.scoring (which re-exports every name here). Pure functions of dates and the `Rules`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from triage_app.domain.rules import Rules


def weeks_waiting(received_on: date | None, as_of: date) -> int | None:
    """Whole weeks (days // 7) from `received_on` to `as_of`; None when the received date is unknown.

    The one definition of weeks waiting: the priority's waiting term, the `rtt_breach_risk` caution, the queue,
    the triage panel and the agenda all count with it.
    """
    return None if received_on is None else (as_of - received_on).days // 7


def rtt_at_risk(weeks: int | None, warning_weeks: int) -> bool:
    """The `rtt_breach_risk` rule: whole weeks waiting at or beyond the warning week (unknown weeks: not raised)."""
    return weeks is not None and weeks >= warning_weeks


def rtt_flag(received_on: date | None, as_of: date, rules: Rules) -> bool:
    """Whether `rtt_breach_risk` stands on `as_of` for a referral received on `received_on`."""
    return rtt_at_risk(weeks_waiting(received_on, as_of), rules.rtt_warning_weeks)


def received_by(as_of: date, weeks: int) -> date:
    """The latest received date that has waited `weeks` whole weeks or more on `as_of`.

    weeks_waiting(r, as_of) >= weeks exactly when r <= as_of - 7 * weeks days, so SQL can filter and sort on the
    received date against this cutoff (an index range, the same on SQLite and PostgreSQL) instead of doing date
    arithmetic in the database.
    """
    return as_of - timedelta(weeks=weeks)


#: The referral-to-treatment standard the clock runs against; the rules' `rtt_warning_weeks` warns ahead of it.
RTT_STANDARD_WEEKS: Final = 18
RTT_FLAG: Final = "rtt_breach_risk"
RTT_BREACHED: Final = "breached"  # 18 whole weeks or more
RTT_WARNING: Final = "warning"  # from the warning week up to 17 weeks
RTT_WITHIN: Final = "within"  # below the warning week


@dataclass(frozen=True, slots=True)
class RttClock:
    """The 18-week clock read on one day: weeks waiting and the `rtt_breach_risk` caution as they stand on `as_of`.

    A stored assessment keeps the flags of the day it was scored; every screen and document that shows the
    clock reads it for the day it is made (`as_of`, the local date), so a referral that crossed the warning week
    since it was scored shows the caution now, not at its next edit.
    """

    as_of: date
    warning_weeks: int

    @classmethod
    def of(cls, rules: Rules, as_of: date) -> RttClock:
        """The clock of these rules read on `as_of`."""
        return cls(as_of, rules.rtt_warning_weeks)

    @property
    def warning_cutoff(self) -> date:
        """Received on or before this date: at or past the warning week (`rtt_breach_risk` raised)."""
        return received_by(self.as_of, self.warning_weeks)

    @property
    def breach_cutoff(self) -> date:
        """Received on or before this date: 18 whole weeks or more."""
        return received_by(self.as_of, RTT_STANDARD_WEEKS)

    def weeks(self, received_on: date | None) -> int | None:
        """Whole weeks waiting on `as_of`."""
        return weeks_waiting(received_on, self.as_of)

    def at_risk(self, received_on: date | None) -> bool:
        """Whether `rtt_breach_risk` stands on `as_of`."""
        return rtt_at_risk(self.weeks(received_on), self.warning_weeks)

    def band(self, received_on: date | None) -> str | None:
        """`breached`, `warning` or `within` on `as_of`; None when the received date is unknown."""
        weeks = self.weeks(received_on)
        if weeks is None:
            return None
        if weeks >= RTT_STANDARD_WEEKS:
            return RTT_BREACHED
        return RTT_WARNING if rtt_at_risk(weeks, self.warning_weeks) else RTT_WITHIN

    def describe(self, received_on: date | None) -> str:
        """The clock in words: `19 weeks waiting: past the 18-week referral-to-treatment standard`."""
        weeks, band = self.weeks(received_on), self.band(received_on)
        if weeks is None:
            return "date received not recorded"
        waiting = f"{weeks} week{'' if weeks == 1 else 's'} waiting"
        if band == RTT_BREACHED:
            return f"{waiting}: past the {RTT_STANDARD_WEEKS}-week referral-to-treatment standard"
        if band == RTT_WARNING:
            return (
                f"{waiting}: at or past the {self.warning_weeks}-week warning of the {RTT_STANDARD_WEEKS}-week standard"
            )
        return waiting

    def flags(self, stored: Iterable[str], received_on: date | None) -> tuple[str, ...]:
        """Stored flags with `rtt_breach_risk` as it stands on `as_of` (raised or not), sorted by name as scored."""
        flags = {flag for flag in stored if flag != RTT_FLAG}
        if self.at_risk(received_on):
            flags.add(RTT_FLAG)
        return tuple(sorted(flags))
