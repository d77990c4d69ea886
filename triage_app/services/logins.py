"""Who is signed in: the operating system's account (never an environment variable), or the server's user on
PostgreSQL. Importable from services.app.

On a server the signed-in user is the role the server authenticated (`current_user`). Its password never comes
from the app's settings: libpq reads the pgpass file (or Kerberos/GSSAPI, SSPI on Windows, authenticates without
one), and where the optional `keyring` package is installed a password kept in the operating system's keyring
under service `triage-app`, user `ROLE@HOST:PORT/DATABASE` is handed to the driver (`server_database`). The
password is held only by the driver's connection parameters: never logged, never written anywhere.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import sqlalchemy as sa

from triage_app.services.users import UnknownUser
from triage_app.storage.engine import (
    Database,
    DatabaseLocation,
)

#: The keyring service under which a server login's password may be kept (`keyring set triage-app ROLE@HOST...`).
KEYRING_SERVICE = "triage-app"

log = logging.getLogger(__name__)


def os_login() -> str:
    """The account this process runs as, asked of the operating system; `UnknownUser` if it has no name.

    Never read from USER, LOGNAME or USERNAME (as `getpass.getuser()` does): anyone can set those, and the
    login decides what the user may do.
    """
    if sys.platform == "win32":
        return _windows_login()
    else:  # an else, not a fall-through: mypy then skips the other platform's branch
        return _posix_login()


# Each platform's way is defined only there, so that mypy checks each against its own platform.
if sys.platform == "win32":

    def _windows_login() -> str:
        import ctypes
        from ctypes import wintypes

        # GetUserNameW names the account of the calling thread's token (the process token unless the thread
        # impersonates someone), not the USERNAME variable.
        advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
        get_user_name = advapi32.GetUserNameW
        get_user_name.argtypes = [wintypes.LPWSTR, ctypes.POINTER(wintypes.DWORD)]
        get_user_name.restype = wintypes.BOOL
        size = wintypes.DWORD(257)  # UNLEN + 1: the longest Windows user name and its terminator
        buffer = ctypes.create_unicode_buffer(size.value)
        if not get_user_name(buffer, ctypes.byref(size)) or not buffer.value:
            code = ctypes.get_last_error()
            raise UnknownUser(
                f"Windows could not name the account this program runs as (GetUserNameW failed: "
                f"{ctypes.FormatError(code)} [{code}]), so it cannot be signed in."
            )
        return buffer.value

else:

    def _posix_login() -> str:
        import pwd  # POSIX only

        uid = os.geteuid()  # the effective user: the one whose rights the process has
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:  # e.g. a container started with a user id that has no passwd entry
            name = ""
        if not name:
            raise UnknownUser(
                f"the account this program runs as (user id {uid}) has no name in the operating system's user "
                "list, so it cannot be signed in; run it as a named user (add one to /etc/passwd in a container)."
            )
        return name


def server_login(database: Database) -> str:
    """The role the database server authenticated this connection as (PostgreSQL)."""
    with database.read() as session:
        name = session.execute(sa.text("SELECT current_user")).scalar_one()
    if not isinstance(name, str) or not name:
        raise UnknownUser(f"the database server {database.location.describe()} did not name the signed-in role")
    return name


def current_login(database: Database | None = None) -> str:
    """Who is signed in: the role a database server authenticated, otherwise the operating-system account."""
    # On a server the server's authentication is the one that counts: the OS account of a desktop connecting
    # to it proves nothing to the server, and every desktop may run under a different local account.
    if database is not None and database.location.url.get_backend_name() == "postgresql":
        return server_login(database)
    return os_login()


def keyring_user(location: DatabaseLocation) -> str:
    """The keyring entry's user name for a server URL: `ROLE@HOST:PORT/DATABASE` (libpq's defaults filled in)."""
    url = location.url
    role = url.username or os_login()
    host = url.host or str(url.query.get("host") or "localhost")
    return f"{role}@{host}:{url.port or 5432}/{url.database or role}"


def keyring_password(location: DatabaseLocation) -> str | None:
    """The password kept in the OS keyring for this server login, or None (no `keyring` package, no usable
    keyring, no entry). A failing keyring is logged by its kind only and the connection goes on without it (the
    pgpass file or Kerberos may still sign the user in; the server says if not)."""
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]  # optional: pip install keyring
        from keyring.errors import KeyringError  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        password = keyring.get_password(KEYRING_SERVICE, keyring_user(location))
    except (KeyringError, RuntimeError, OSError) as exc:
        log.info("no password from the keyring (%s)", type(exc).__name__)
        return None
    return password if isinstance(password, str) and password else None


def server_database(location: DatabaseLocation, read_only: str | None = None) -> Database:
    """A `Database` on a server; when the URL holds no password, the keyring's (if any) is given to each new
    connection, asked for once. A URL's own password wins (given in TRIAGE_APP_DB for an unattended script)."""
    database = Database(location, read_only)
    if location.url.password is not None:
        return database
    asked: dict[str, str | None] = {}

    @sa.event.listens_for(database.engine, "do_connect")
    def with_keyring_password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        if "password" in cparams:
            return
        if "password" not in asked:
            asked["password"] = keyring_password(location)
        if asked["password"] is not None:
            cparams["password"] = asked["password"]

    return database
