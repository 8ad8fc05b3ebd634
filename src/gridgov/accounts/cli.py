"""`gridgov unlock <username>`: the recovery path on the server console when an account (even the only
security administrator's) is locked after failed logins and nobody who may unlock it can log in."""

from __future__ import annotations

import argparse
import sys


def cmd_unlock(args: argparse.Namespace) -> int:
    from gridgov.cli import _setup_django

    _setup_django()
    from gridgov.accounts.services import unlock_from_console
    from gridgov.core.errors import NotFound

    try:
        user = unlock_from_console(args.username)
    except NotFound:
        print(f"no such user: {args.username}", file=sys.stderr)
        return 2
    print(f"unlocked {user.username}")
    return 0


def add_parser(sub) -> None:
    unlock = sub.add_parser(
        "unlock",
        help="end the failed-login lock of an account (from every address) and forget login rate-limit "
        "counts; recorded in the audit log",
    )
    unlock.add_argument("username")
    unlock.set_defaults(func=cmd_unlock)
