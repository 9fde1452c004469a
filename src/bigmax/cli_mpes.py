"""``bigmax mpes``: the command group. Each topic's commands live in their own module.

A topic module does ``from bigmax.cli_mpes import mpes_app, friendly`` and decorates its
functions with ``@mpes_app.command("name")`` and ``@friendly``; it is imported at the end of
this file. Heavy libraries are imported inside the command functions, so start-up stays fast.
"""

from __future__ import annotations

import typer

from bigmax.cli_shared import friendly  # noqa: F401  (the topic modules import it from here)

mpes_app = typer.Typer(
    help="Multidimensional photoemission: event files to calibrated, binned band-structure cubes.",
    no_args_is_help=True,
)


# Topic modules register their commands on import (one line each).
from bigmax import (  # noqa: E402
    cli_mpes_bin,  # noqa: F401
    cli_mpes_calibrate,  # noqa: F401
    cli_mpes_io,  # noqa: F401
    cli_mpes_plot,  # noqa: F401
)
