"""How the data were made: program, level of theory, numerical settings."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from bigmax.schema.base import Section


class MethodType(StrEnum):
    DFT = "DFT"
    GW = "GW"
    FORCE_FIELD = "force field"
    ML_POTENTIAL = "ML potential"
    EXPERIMENT = "experiment"
    UNKNOWN = "unknown"


class Method(Section):
    program_name: str | None = None
    program_version: str | None = None
    method_type: MethodType = MethodType.UNKNOWN
    xc_functional: str | None = Field(default=None, description="e.g. PBE, LDA, HSE06")
    basis_set: str | None = Field(default=None, description="e.g. plane waves, numeric AO")
    k_mesh: list[int] | None = Field(default=None, min_length=3, max_length=3)
