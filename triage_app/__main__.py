"""Entry point: `triage-app` opens the GUI; `triage-app COMMAND` runs a headless command."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, set up logging, then run a command or start the GUI. Returns the exit status."""
    from triage_app.cli import (
        EXIT_BAD_INPUT,
        EXIT_FAILURE,
        build_parser,
        rules_option_refusal,
        run_command,
        session_paths,
    )
    from triage_app.config import ConfigError, ensure_data_dir
    from triage_app.logs import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    # A rules file is refused before anything is opened: the rules in force are the database's approved ones, so
    # neither a command nor the desktop app may be started with a file of its own (only `score` takes one).
    refusal = rules_option_refusal(args)
    if refusal is not None:
        print(f"triage-app{' ' + args.command if args.command else ''}: {refusal}", file=sys.stderr)
        if args.command is None and not args.smoke:  # started from a desktop shortcut: no console to read
            from triage_app.ui.app import show_startup_error

            show_startup_error(refusal)
        return EXIT_BAD_INPUT
    try:
        paths = session_paths(args)  # `--data-dir ""` and the like are refused here, never read as the default
    except ConfigError as exc:
        print(f"triage-app{' ' + args.command if args.command else ''}: {exc}", file=sys.stderr)
        if args.command is None and not args.smoke:
            from triage_app.ui.app import show_startup_error

            show_startup_error(str(exc))
        return EXIT_BAD_INPUT
    if args.command != "score":  # scoring touches no files but its input: no data folder needed
        try:
            ensure_data_dir(paths.data_dir)
        except (ConfigError, OSError) as exc:
            print(f"triage-app: {exc}", file=sys.stderr)
            if args.command is None and not args.smoke:  # started from a desktop shortcut: no console to read
                from triage_app.ui.app import show_startup_error

                show_startup_error(str(exc))
            return EXIT_FAILURE
        # A log that cannot be written (read-only or full disk) does not stop the command: it runs without one.
        configure_logging(paths.log_dir)
    if args.command is not None:
        try:
            return run_command(args)
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    from triage_app.ui.app import run_gui

    return run_gui(paths, smoke=args.smoke)


if __name__ == "__main__":
    sys.exit(main())
