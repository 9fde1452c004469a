"""``bigmax apt``: the command group. Each topic's commands live in their own module.

A topic module does ``from bigmax.cli_apt import apt_app, friendly`` and decorates its
functions with ``@apt_app.command("name")`` and ``@friendly``; it is imported at the end of
this file. Heavy libraries are imported inside the command functions, so start-up stays fast.
"""

from __future__ import annotations

import typer

from bigmax.cli_shared import friendly  # noqa: F401  (the topic modules import it from here)

apt_app = typer.Typer(
    help="Atom probe tomography: reading, ranging, composition, clusters and interfaces.",
    no_args_is_help=True,
)


# Topic modules register their commands on import (one line each).
from bigmax import (  # noqa: E402
    cli_apt_clusters,  # noqa: F401
    cli_apt_io,  # noqa: F401
    cli_apt_micro,  # noqa: F401
    cli_apt_spectrum,  # noqa: F401
)
