"""Settings from the environment.

BIGMAX_HOME, BIGMAX_DATABASE_URL, BIGMAX_FILES_URL and BIGMAX_SYMPREC; see docs/configuration.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: spglib distance tolerance in angstrom: the middle of the 0.01-0.5 plateau where NOMAD 2018
#: lattices agree with their labels; docs/symmetry.md explains the choice.
DEFAULT_SYMPREC = 0.05


def _home() -> Path:
    return Path(os.environ.get("BIGMAX_HOME", Path.home() / ".bigmax")).expanduser()


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_home)
    database_url: str = ""
    files_url: str = ""
    symprec: float = DEFAULT_SYMPREC

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser())
        if not self.database_url:
            url = (
                os.environ.get("BIGMAX_DATABASE_URL") or f"sqlite:///{self.home / 'bigmax.sqlite'}"
            )
            object.__setattr__(self, "database_url", url)
        if not self.files_url:
            url = os.environ.get("BIGMAX_FILES_URL") or str(self.home / "files")
            object.__setattr__(self, "files_url", url)


def get_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit ``overrides`` taking precedence."""
    if "symprec" not in overrides and os.environ.get("BIGMAX_SYMPREC"):
        overrides["symprec"] = float(os.environ["BIGMAX_SYMPREC"])
    return Settings(**overrides)
