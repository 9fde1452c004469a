"""Computed or measured properties. Every number is stored in SI; the unit is in the schema."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bigmax.schema.base import Section, quantity


class BandGap(Section):
    value: float = quantity("J", "Band gap energy", ge=0.0)
    type: Literal["direct", "indirect", "unknown"] = "unknown"


class ScalarQuantity(Section):
    """A named number from a table or file that has no dedicated field; ``unit`` is SI."""

    value: float | int | str | bool | None
    unit: str | None = None
    source_unit: str | None = Field(default=None, description="Unit as written in the source")


class Properties(Section):
    total_energy: float | None = quantity("J", "Total energy of the cell")
    energy_per_atom: float | None = quantity("J", "Total energy divided by the number of sites")
    formation_energy_per_atom: float | None = quantity("J", "Formation energy per atom")
    band_gap: BandGap | None = None
    forces: list[list[float]] | None = quantity("N", "Force on each site")
    max_force: float | None = quantity("N", "Largest force norm on any site")
    stress: list[list[float]] | None = quantity("Pa", "Cauchy stress tensor, 3x3")
    magnetic_moment: float | None = quantity("A*m**2", "Total magnetic moment of the cell")
    extra: dict[str, ScalarQuantity] = Field(
        default_factory=dict, description="Further named quantities, e.g. table columns"
    )
