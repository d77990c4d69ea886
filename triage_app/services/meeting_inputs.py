"""What a meeting is planned with, checked before any transaction: its time, date, video link and attendees.

Importable from services.meetings as before (the command line parses `--time` and `--attendee` with these).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from triage_app.domain.formats import format_date
from triage_app.domain.meetings import MDT_ROLES
from triage_app.services.errors import ServiceError
from triage_app.services.users import limited_text

_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def parse_time(text: str) -> str:
    """A meeting time as HH:MM (24-hour); `ServiceError` names the expected form."""
    value = text.strip()
    if len(value) == 4 and value[1] == ":":
        value = "0" + value
    if not _TIME.fullmatch(value):
        raise ServiceError(f"'{text}' is not a time: write it as HH:MM, for example 13:30")
    return value


class SameTimeMeeting(ServiceError):
    """Another meeting (not cancelled) is already at this date and time; nothing was created.

    A second meeting at the same date and time is made only when the caller confirms it (`allow_same_time=True`).
    """


def parse_attendee(text: str) -> tuple[str, str | None]:
    """`Name:role` as typed on the command line; both are required (`check_attendee`)."""
    name_text, _, role_text = text.partition(":")
    role = role_text.strip() or None
    name = limited_text(name_text, "meeting.attendee", "attendee name")
    if name is None:
        raise ServiceError(f"attendee '{text[:40]}' has no name; write it as \"Name:role\"")
    if role is None:
        raise ServiceError(
            f"attendee '{name[:40]}' has no MDT role; write it as \"Name:role\", the role one of {', '.join(MDT_ROLES)}"
        )
    return check_attendee(name, role)


def check_attendee(name_text: str, role: str | None) -> tuple[str, str]:
    """An expected attendee: a name and one of the MDT roles (quorum counts roles, so an attendee without one is
    refused rather than stored as one who counts for nothing)."""
    name = limited_text(name_text, "meeting.attendee", "attendee name")
    if name is None:
        raise ServiceError("an attendee has no name: give each attendee a name and an MDT role")
    if role is None:
        raise ServiceError(f"attendee '{name[:40]}' has no MDT role: choose one of {', '.join(MDT_ROLES)}")
    if role not in MDT_ROLES:
        raise ServiceError(f"'{role[:40]}' is not an MDT role: {', '.join(MDT_ROLES)}")
    return name, role


def check_video_link(text: str | None) -> str | None:
    """The video link trimmed (None when blank); refused unless it is an https:// address with a host."""
    link = limited_text(text, "meeting.video_link", "video link")
    if link is None:
        return None
    parts = urlsplit(link)
    if parts.scheme.lower() != "https" or not parts.hostname or any(c.isspace() for c in link):
        raise ServiceError(
            f"the video link '{link[:80]}' is not a secure (https://) web address: only https:// links are accepted, "
            "written in full with the host"
        )
    return link


def check_meeting_date(meeting_date: date, today: date) -> None:
    """A meeting is planned for today or later: a date in the past is refused, naming it."""
    if meeting_date < today:
        raise ServiceError(
            f"the meeting date {format_date(meeting_date)} is in the past (today is {format_date(today)}); "
            "a meeting is planned for today or a later date"
        )


def capacity_warning(cases: int, capacity: int) -> str | None:
    """`9 cases on a list of 8: over capacity by 1`, or None when the list fits."""
    if cases <= capacity:
        return None
    return f"{cases} cases on a list of {capacity}: over capacity by {cases - capacity}"


@dataclass(frozen=True, slots=True)
class MeetingDetails:
    """A meeting's details as checked for creating or editing it: HH:MM time, trimmed text, attendees each
    with an MDT role."""

    meeting_date: date
    meeting_time: str
    place: str | None
    video_link: str | None
    chair: str | None
    attendees: list[tuple[str, str]]


def check_meeting_details(
    meeting_date: date,
    meeting_time: str,
    *,
    place: str | None,
    video_link: str | None,
    chair: str | None,
    attendees: Sequence[tuple[str, str | None]],
    today: date,
) -> MeetingDetails:
    """The details of a meeting being created or edited, each refused naming what is wrong: a date before
    `today`, a time not HH:MM, a video link that is not https://, an attendee without an MDT role, or one listed
    twice (the quorum would count them twice)."""
    time_text = parse_time(meeting_time)
    check_meeting_date(meeting_date, today)
    checked = [check_attendee(name, role) for name, role in attendees]
    keys = [name.casefold() for name, _ in checked]
    duplicate = next((name for name, _ in checked if keys.count(name.casefold()) > 1), None)
    if duplicate is not None:
        raise ServiceError(f"'{duplicate[:40]}' is listed twice: give each attendee once, with one MDT role")
    return MeetingDetails(
        meeting_date=meeting_date,
        meeting_time=time_text,
        place=limited_text(place, "meeting.place", "place"),
        video_link=check_video_link(video_link),
        chair=limited_text(chair, "meeting.chair", "chair"),
        attendees=checked,
    )
