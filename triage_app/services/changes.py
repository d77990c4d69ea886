"""What a use case changed, reported to every view so each refreshes only its own part.

Like Anki's `OpChanges`: every mutation returns a `Changes`; the GUI broadcasts it and each view checks the
flags it cares about (the queue its rows, the side panel its counts, the meeting window its meetings). An empty
report means "nothing changed"; "everything may have changed" (a restore, a rules approval, a change seen from
another desktop without details) is the named value `EVERYTHING`, never an empty report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Changes:
    """Ids of what a mutation touched, and flags for the parts of the app it may have changed."""

    #: Referrals whose stored lines changed (edited, triaged, moved, listed or unlisted).
    referral_ids: frozenset[int] = frozenset()
    #: Referrals that did not exist before (a view may gain rows).
    created: frozenset[int] = frozenset()
    #: Meetings whose details, cases or outcomes changed.
    meeting_ids: frozenset[int] = frozenset()
    #: Meetings were created, cancelled or changed in a way a list of meetings shows.
    meetings: bool = False
    #: Users or their roles changed.
    users: bool = False
    #: The rules in force changed: every assessment may differ.
    rules: bool = False
    #: Anything may have changed (a restore, a bulk load, a change from elsewhere without details).
    everything: bool = False
    #: Who made the change when it came from another desktop (None: this one), for "changed by NAME".
    by: str | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        """False only when nothing at all changed."""
        return bool(
            self.everything
            or self.referral_ids
            or self.created
            or self.meeting_ids
            or self.meetings
            or self.users
            or self.rules
        )

    @property
    def all_referrals(self) -> frozenset[int]:
        """Every referral named, old or new."""
        return self.referral_ids | self.created

    def touches_referral(self, referral_id: int | None) -> bool:
        """True when this report may have changed `referral_id` (always, for EVERYTHING or a rules change)."""
        if referral_id is None:
            return False
        return self.everything or self.rules or referral_id in self.all_referrals

    def touches_meeting(self, meeting_id: int | None) -> bool:
        """True when this report may have changed `meeting_id` or the list of meetings."""
        return self.everything or self.meetings or (meeting_id is not None and meeting_id in self.meeting_ids)

    def merge(self, other: Changes) -> Changes:
        """One report for two changes (a batch of operations, or several notifications at once)."""
        return Changes(
            referral_ids=self.referral_ids | other.referral_ids,
            created=self.created | other.created,
            meeting_ids=self.meeting_ids | other.meeting_ids,
            meetings=self.meetings or other.meetings,
            users=self.users or other.users,
            rules=self.rules or other.rules,
            everything=self.everything or other.everything,
            by=self.by if self.by == other.by else None,
        )


def referrals_changed(*referral_ids: int, meetings: Iterable[int] = (), created: bool = False) -> Changes:
    """The usual report: these referrals changed (and these meetings, when they are listed in one)."""
    ids = frozenset(referral_ids)
    meeting_ids = frozenset(meetings)
    return Changes(
        referral_ids=frozenset() if created else ids,
        created=ids if created else frozenset(),
        meeting_ids=meeting_ids,
    )


NOTHING = Changes()
EVERYTHING = Changes(everything=True)
