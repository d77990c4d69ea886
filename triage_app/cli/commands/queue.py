"""`triage-app queue`: the queue, highest priority first."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from triage_app.cli.common import (
    EXIT_OK,
    AddCommand,
    count_of,
    today,
)
from triage_app.domain.meetings import (
    triage_text,
)
from triage_app.domain.referral import format_nhs_number
from triage_app.domain.scoring import (
    FLAGS,
    OUTCOMES,
    RTT_BREACHED,
    RTT_WARNING,
    RttClock,
)
from triage_app.domain.workflow import STATUS_LABELS, STATUSES


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    # Only reads: `--json` is audited as an export, and on a read-only database its event goes to the app log.
    queue = add("queue", "list the queue, highest priority first", only_reads=True)
    queue.add_argument("--outcome", choices=OUTCOMES, help="only this triage outcome (the desktop's Triage filter)")
    queue.add_argument("--status", choices=STATUSES, help="only this status (the desktop's Status filter)")
    queue.add_argument(
        "--caution",
        type=caution_code,
        metavar="CAUTION",
        help="only referrals with this caution, by its code or by the label the queue prints: "
        + ", ".join(f"{code} ({label})" for code, (label, _) in FLAGS.items()),
    )
    queue.add_argument(
        "--search", metavar="TEXT", help="NHS number (any spacing), family or given name prefix, or hospital number"
    )
    queue.add_argument("--json", action="store_true", help="print JSON")
    queue.add_argument(
        "--sort",
        choices=("priority", "breaches"),
        default="priority",
        help="priority (highest first, the default) or breaches: 18 weeks or more, then the warning weeks, then the rest",
    )
    queue.set_defaults(run=cmd_queue)


def caution_code(text: str) -> str:
    """A caution's code (`head_tremor`) from its code or the label the queue and the panel print (`tremor`,
    `RTT risk`; any case); else argparse's refusal naming every code and label."""
    wanted = " ".join(text.split()).casefold()
    for code, (label, _) in FLAGS.items():
        if wanted in (code.casefold(), label.casefold()):
            return code
    known = ", ".join(f"{code} ({label})" for code, (label, _) in FLAGS.items())
    raise argparse.ArgumentTypeError(f"'{text}' is not a caution: choose a code or a label: {known}")


def cmd_queue(args: argparse.Namespace, session: Any, out: TextIO, err: TextIO) -> int:
    """`triage-app queue`: the queue, highest priority first."""
    from triage_app.services.referrals import current_flags, list_queue
    from triage_app.storage.referrals import QueueFilter

    clock = RttClock.of(session.rules, today())  # weeks and the RTT caution of today, not of scoring
    search = (args.search or "").strip() or None
    chosen = QueueFilter(outcome=args.outcome, status=args.status, flag=args.caution, search=search, clock=clock)
    rows = list_queue(session.db, queue_filter=chosen, sort=args.sort)
    stored = current_flags(session.db, referral_ids=[r.id for r in rows if r.id is not None])
    flags = {r.id or 0: clock.flags(stored.get(r.id or 0, ()), r.received_on) for r in rows}
    if args.json:
        # Every name and NHS number, machine-readable: an export, audited before a byte is written (issue 10,
        # finding 11). If the event cannot be written, nothing is printed. The plain listing below is the
        # queue on screen, as on the desktop: not audited, and it works on a read-only database.
        from triage_app.services.audit import audit_queue_export

        note = audit_queue_export(
            session.db,
            actor=session.actor,
            referral_ids=[r.id for r in rows if r.id is not None],
            what="json",
            # the search text is not recorded: it may be a patient's name or NHS number
            filters={
                "outcome": args.outcome,
                "status": args.status,
                "caution": args.caution,
                "search": None if search is None else "given",
                "sort": args.sort,
            },
        )
        if note is not None:
            print(f"triage-app queue: this export is {note}", file=err)
        payload = [
            {
                "referral_id": r.id,
                "priority": r.priority,
                "nhs_number": r.nhs_number,
                "family_name": r.family_name,
                "given_name": r.given_name,
                "received_on": None if r.received_on is None else r.received_on.isoformat(),
                "weeks_waiting": clock.weeks(r.received_on),
                "rtt": clock.band(r.received_on),  # breached (18 weeks or more), warning, within; None: no date
                "outcome": r.queue_outcome,  # the standing decision, else the computed outcome
                "computed_outcome": r.outcome,
                "decided_outcome": r.decided_outcome,
                "triage": triage_text(r.outcome, r.decided_outcome, r.decision_kind),
                "status": r.status,
                "flags": list(flags.get(r.id or 0, ())),
                "version": r.version,
            }
            for r in rows
        ]
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    print(
        f"{'id':>6} {'pri':>3}  {'NHS number':<12}  {'name':<28} {'wks':>4}  {'triage':<44} {'status':<22} cautions",
        file=out,
    )
    for r in rows:
        name = f"{(r.family_name or '').upper()}, {r.given_name or ''}".strip(", ")
        # ‼ past the 18-week standard, ! from the rules' warning week: as the desktop's Wks column marks them
        mark = {RTT_BREACHED: "‼", RTT_WARNING: "!"}.get(clock.band(r.received_on) or "", "")
        weeks = "" if r.received_on is None else f"{clock.weeks(r.received_on)}{mark}"
        print(
            f"{r.id:>6} {r.priority if r.priority is not None else '':>3}  {format_nhs_number(r.nhs_number):<12}  "
            f"{name[:28]:<28} {weeks:>4}  {triage_text(r.outcome, r.decided_outcome, r.decision_kind):<44} "
            f"{STATUS_LABELS.get(r.status, r.status):<22} {', '.join(FLAGS[f][0] if f in FLAGS else f for f in flags.get(r.id or 0, ()))}",
            file=out,
        )
    print(count_of(len(rows), "referral"), file=out)
    return EXIT_OK
