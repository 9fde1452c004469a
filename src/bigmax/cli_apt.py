"""``bigmax apt``: the command group. Each topic's commands live in their own module.

A topic module does ``from bigmax.cli_apt import apt_app, friendly`` and decorates its
functions with ``@apt_app.command("name")`` and ``@friendly``; it is imported at the end of
this file. Heavy libraries are imported inside the command functions, so start-up stays fast.
"""

from __future__ import annotations

import functools

import typer

apt_app = typer.Typer(
    help="Atom probe tomography: reading, ranging, composition, clusters and interfaces.",
    no_args_is_help=True,
)


def friendly(func):
    """bigmax.cli's error handling, looked up at call time (cli imports this module)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from bigmax.cli import _friendly

        return _friendly(func)(*args, **kwargs)

    return wrapper


# Topic modules register their commands on import (one line each).
from bigmax import (  # noqa: E402
    cli_apt_clusters,  # noqa: F401
    cli_apt_io,  # noqa: F401
    cli_apt_micro,  # noqa: F401
    cli_apt_spectrum,  # noqa: F401
)
