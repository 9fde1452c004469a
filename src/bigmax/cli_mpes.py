"""``bigmax mpes``: the command group. Each topic's commands live in their own module.

A topic module does ``from bigmax.cli_mpes import mpes_app, friendly`` and decorates its
functions with ``@mpes_app.command("name")`` and ``@friendly``; it is imported at the end of
this file. Heavy libraries are imported inside the command functions, so start-up stays fast.
"""

from __future__ import annotations

import functools

import typer

mpes_app = typer.Typer(
    help="Multidimensional photoemission: event files to calibrated, binned band-structure cubes.",
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
    cli_mpes_bin,  # noqa: F401
    cli_mpes_calibrate,  # noqa: F401
    cli_mpes_io,  # noqa: F401
    cli_mpes_plot,  # noqa: F401
)
