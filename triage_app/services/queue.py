"""Reading the queue for the GUI: the first page at once, then its count (with the page again), then every id,
then pages by id.

The first page is read without counting the view: on a server the count of a million referrals costs more than
the page, so the window paints the page first and says "Counting…" until `snapshot` brings the count (and the
first page read again in the same transaction, so the two always agree).

Seeing the queue needs an active role (`view_queue` in services.permissions). Each read takes the signed-in
`actor` and checks them as stored now, so a desktop whose user was deactivated stops showing patients; sign-in
already refuses a user with no active role, so a caller without an actor to hand (tests) may leave it out.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from triage_app.domain.scoring import RttClock
from triage_app.services.permissions import VIEW_QUEUE, authorize
from triage_app.services.users import Actor
from triage_app.storage import referrals as repo
from triage_app.storage.engine import Database
from triage_app.storage.referrals import QueueFilter, QueueRow

__all__ = [
    "FirstPage",
    "QueueCounts",
    "QueueFilter",
    "QueueRow",
    "QueueSnapshot",
    "RowsInView",
    "all_ids",
    "counts",
    "first_page",
    "page",
    "rows_in_view",
    "snapshot",
]


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The first screenful of a queue view: how many rows in all, and the first page."""

    total: int
    first_ids: list[int]
    rows: dict[int, QueueRow]


@dataclass(frozen=True, slots=True)
class FirstPage:
    """A view's first page, read without counting the view: `total` is known only when the page is short (the
    view holds exactly its rows), else None (counted afterwards by `snapshot`)."""

    first_ids: list[int]
    rows: dict[int, QueueRow]
    total: int | None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Counts for the side panel."""

    total: int
    by_outcome: dict[str | None, int] = field(default_factory=dict)
    by_status: dict[str | None, int] = field(default_factory=dict)
    by_flag: dict[str, int] = field(default_factory=dict)
    meetings: tuple[tuple[int, str, int], ...] = ()  # open meetings: (id, "03-Dec-2026 13:30", cases listed)


def _may_view(session: Session, actor: Actor | None) -> None:
    if actor is not None:
        authorize(actor, VIEW_QUEUE, session=session)


def snapshot(
    db: Database,
    *,
    queue_filter: QueueFilter,
    sort: str,
    descending: bool,
    page_size: int,
    actor: Actor | None = None,
) -> QueueSnapshot:
    """Count the view and fetch its first page in one read transaction (a consistent picture)."""
    with db.read() as session:
        _may_view(session, actor)
        total = repo.queue_count(session, queue_filter)
        ids = repo.queue_ids(session, queue_filter=queue_filter, sort=sort, descending=descending, limit=page_size)
        return QueueSnapshot(total, ids, repo.queue_rows(session, ids, clock=queue_filter.clock))


def first_page(
    db: Database,
    *,
    queue_filter: QueueFilter,
    sort: str,
    descending: bool,
    page_size: int,
    actor: Actor | None = None,
) -> FirstPage:
    """The view's first page and its rows in one read transaction, without the count (see the module's note)."""
    with db.read() as session:
        _may_view(session, actor)
        ids = repo.queue_ids(session, queue_filter=queue_filter, sort=sort, descending=descending, limit=page_size)
        rows = repo.queue_rows(session, ids, clock=queue_filter.clock)
        return FirstPage(ids, rows, len(ids) if len(ids) < page_size else None)


def all_ids(
    db: Database,
    *,
    queue_filter: QueueFilter,
    sort: str,
    descending: bool,
    actor: Actor | None = None,
    stop: Callable[[], bool] | None = None,
) -> array[int]:
    """Every id of the view in order (fetched after the first paint); `stop()` true ends the read early (the
    view was left: what was read is returned, and must not be shown).

    As an array of 64-bit ints, not a list: a million Python ints took 10-30 ms to free on the GUI thread when
    the next view replaced them (on the path to its first paint), and as long to build or free on the worker,
    holding the interpreter lock the GUI thread needs.
    """
    with db.read() as session:
        _may_view(session, actor)
        return repo.queue_id_array(session, queue_filter=queue_filter, sort=sort, descending=descending, stop=stop)


def page(
    db: Database, *, ids: Sequence[int], actor: Actor | None = None, clock: RttClock | None = None
) -> dict[int, QueueRow]:
    """Queue lines for these ids (rows deleted meanwhile are simply absent); `rtt_breach_risk` of the clock's day."""
    with db.read() as session:
        _may_view(session, actor)
        return repo.queue_rows(session, ids, clock=clock)


@dataclass(frozen=True, slots=True)
class RowsInView:
    """Named referrals' lines read again, and which of them the view's filter holds (one consistent read)."""

    rows: dict[int, QueueRow]
    matching: frozenset[int]


def rows_in_view(
    db: Database, *, ids: Sequence[int], queue_filter: QueueFilter, actor: Actor | None = None
) -> RowsInView:
    """After a change to these referrals: their lines (today's clock from the filter) and which the view holds.

    One read, so the queue decides in one worker job whether it repaints the rows or reloads (its membership
    changed).
    """
    with db.read() as session:
        _may_view(session, actor)
        rows = repo.queue_rows(session, list(ids), clock=queue_filter.clock)
        return RowsInView(rows, frozenset(repo.matching_ids(session, list(ids), queue_filter)))


def counts(db: Database, *, actor: Actor | None = None, clock: RttClock | None = None) -> QueueCounts:
    """Totals by outcome, status and flag over open and closed referrals; given a clock (the day the counts
    are shown), `rtt_breach_risk` counts that day's, else the caution as stored at scoring."""
    with db.read() as session:
        _may_view(session, actor)
        by_outcome = repo.count_by(session, "queue_outcome")
        return QueueCounts(
            total=sum(by_outcome.values()),
            by_outcome=by_outcome,
            by_status=repo.count_by(session, "status"),
            by_flag=repo.flag_counts(session, clock=clock),
            meetings=repo.open_meetings(session),
        )
