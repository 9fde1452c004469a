"""Unit handling at the edges: everything is stored in SI, pint converts on the way in and out.

The pint registry takes most of a second to build, so it is built on first use
(``get_ureg()``, or the module attribute ``ureg``), not on import: a CLI command or an ingest
that converts no unit never pays for it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def get_ureg() -> Any:
    """The process-wide pint ``UnitRegistry``, with the unit spellings of real tables added."""
    import pint

    registry = pint.UnitRegistry()
    # Spellings found in real tables (SISSO, Kaggle): map them onto pint units.
    registry.define("AA = angstrom")
    registry.define("Ang = angstrom")
    registry.define("eV_IP = electron_volt")
    registry.define("nuc_charge = [] = elementary_charge_number")
    registry.define("atom = [] ")
    return registry


def __getattr__(name: str) -> Any:
    if name == "ureg":  # the registry, built lazily (PEP 562)
        return get_ureg()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Storage unit of each physical dimension we keep.
SI_UNITS = {
    "energy": "J",
    "length": "m",
    "force": "N",
    "pressure": "Pa",
    "magnetic_moment": "A*m**2",
}


class UnitError(ValueError):
    """A unit string that pint does not know, or one of the wrong dimension."""


@lru_cache(maxsize=512)
def _factor(unit: str, target: str) -> float:
    import pint

    ureg = get_ureg()
    try:
        return float(ureg.Quantity(1.0, unit).to(target).magnitude)
    except pint.errors.UndefinedUnitError as err:
        raise UnitError(f"unknown unit {unit!r}") from err
    except pint.errors.DimensionalityError as err:
        raise UnitError(f"unit {unit!r} cannot be converted to {target!r}") from err
    except Exception as err:  # pint raises many kinds on garbage strings
        raise UnitError(f"cannot read unit {unit!r}: {err}") from err


def convert(value, unit: str, target: str):
    """Convert a number or numpy array from ``unit`` to ``target``."""
    if unit == target:
        return value
    return value * _factor(unit, target)


def to_si(value, unit: str):
    """Convert ``value`` in ``unit`` to SI; returns (value, si_unit)."""
    si = si_unit_of(unit)
    return convert(value, unit, si), si


@lru_cache(maxsize=512)
def si_unit_of(unit: str) -> str:
    """The SI unit we store ``unit`` in, e.g. 'eV' -> 'J'."""
    ureg = get_ureg()
    try:
        q = ureg.Quantity(1.0, unit)
    except Exception as err:
        raise UnitError(f"cannot read unit {unit!r}: {err}") from err
    for si in SI_UNITS.values():
        if q.check(ureg.Quantity(1.0, si).dimensionality):
            return si
    return f"{q.to_base_units().units:~}" or "1"


def parse_quantity(text: str, target: str) -> float:
    """Parse '1.5 eV' (or a bare number, taken as ``target``) into a float in ``target``."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    import pint

    ureg = get_ureg()
    try:
        q = ureg.Quantity(text)
    except Exception as err:
        raise UnitError(f"cannot read quantity {text!r}: {err}") from err
    try:
        return float(q.to(target).magnitude)
    except pint.errors.DimensionalityError as err:
        raise UnitError(f"{text!r} cannot be converted to {target!r}") from err
