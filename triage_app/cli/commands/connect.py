"""`triage-app connect URL`: set the database this desktop opens, in the data folder's settings file.

The settings file (`settings.ini`, `[database]` `url = ...`, owner-only) is the third way to choose the
database, after `--db` and TRIAGE_APP_DB and before the SQLite file in the data folder (triage_app.config). The
URL is checked before anything is written: it must parse, name a known kind of database (a SQLite file by its
full path), and hold no password, which belongs in the pgpass file or the keyring. Opens no database: the next
start (or command) opens it, and says so if it cannot.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from triage_app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    AddCommand,
    CommandError,
    json_option,
    print_json,
)
from triage_app.config import (
    ENV_DB,
    SETTINGS_KEY,
    SETTINGS_SECTION,
    WHERE_PASSWORDS_GO,
    AppPaths,
    ConfigError,
    ensure_data_dir,
    settings_path,
    url_has_password,
    write_settings_db_url,
)


def register(add: AddCommand) -> None:
    """Add the command's arguments to the command line."""
    connect = add(
        "connect",
        "set the database this desktop opens (the data folder's settings.ini, owner-only): checks the URL "
        "parses and holds no password, writes it, and says what it wrote; --db and TRIAGE_APP_DB still win",
    )
    connect.add_argument(
        "url",
        metavar="URL",
        help="the database URL, without a password: postgresql+psycopg://ROLE@HOST/DATABASE?sslmode=verify-full "
        "or sqlite:///FULL/PATH/TO/FILE.sqlite3",
    )
    json_option(connect, "the file written and the URL in it")
    # needs no database; and must not read the settings file it replaces (a broken one is what it fixes)
    connect.set_defaults(run=cmd_connect, needs_database=False, reads_settings=False)


def checked_url(text: str) -> str:
    """`text` as a database URL that may be kept in the settings file; `CommandError` (URL) naming what is wrong."""
    from triage_app.storage.engine import DatabaseError, parse_database_url

    if not text.strip():
        raise CommandError("URL is empty: give the database URL", argument="URL")
    if url_has_password(text):
        raise CommandError(
            "URL: the database URL holds a password, which is never written to the settings file (and a command "
            f"line shows it to every account on this computer); nothing was written. {WHERE_PASSWORDS_GO}.",
            argument="URL",
        )
    try:
        location = parse_database_url(text)
    except DatabaseError as exc:
        raise CommandError(f"URL: {exc}; nothing was written", argument="URL") from None
    if location.path is not None and not location.path.is_absolute():
        raise CommandError(
            f"URL: the SQLite file '{location.path}' is a relative path, which would depend on the folder the app "
            "is started from: give its full path (sqlite:////FULL/PATH/TO/FILE.sqlite3); nothing was written",
            argument="URL",
        )
    return text.strip()


def cmd_connect(args: argparse.Namespace, paths: AppPaths, out: TextIO, err: TextIO) -> int:
    """Check the URL, write it to the settings file owner-only, and say what was written and what still wins."""
    from triage_app.storage.engine import parse_database_url

    url = checked_url(args.url)
    try:
        ensure_data_dir(paths.data_dir)
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from None
    path = settings_path(paths.data_dir)
    try:
        write_settings_db_url(path, url)
    except OSError as exc:
        raise CommandError(
            f"the settings file {path} could not be written ({exc.strerror or exc}); nothing was changed",
            EXIT_FAILURE,
        ) from None
    database = parse_database_url(url).describe()
    overridden_by = "--db" if args.db is not None else ENV_DB if os.environ.get(ENV_DB) else None
    if args.json:
        print_json(
            out,
            {
                "settings_file": str(path),
                "section": SETTINGS_SECTION,
                "key": SETTINGS_KEY,
                "url": url,
                "database": database,
                "overridden_by": overridden_by,
            },
        )
    else:
        print(f"wrote {path} (owner-only): [{SETTINGS_SECTION}] {SETTINGS_KEY} = {url}", file=out)
        when = "the next start" if overridden_by is None else f"once {overridden_by} is no longer given, a start"
        print(f"{when} opens {database}", file=out)
    if overridden_by is not None:
        print(
            f"triage-app connect: warning: {overridden_by} is set and wins over {Path(path).name}: unset it for "
            "the settings file to be used",
            file=err,
        )
    return EXIT_OK
