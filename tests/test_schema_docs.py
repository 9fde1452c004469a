"""docs/schema/*.json stay true to bigmax.schema, and every unit in the schema is SI."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bigmax.schema.units import ureg

ROOT = Path(__file__).resolve().parents[1]


def _exporter():
    script = ROOT / "scripts" / "export_schema.py"
    spec = importlib.util.spec_from_file_location("export_schema", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXPORT = _exporter()


@pytest.mark.parametrize("name", sorted(EXPORT.MODELS))
def test_committed_schema_is_current(name):
    committed = (EXPORT.DOCS / name).read_text(encoding="utf-8")
    assert committed == EXPORT.render(EXPORT.MODELS[name]), (
        f"docs/schema/{name} is out of date: run `make schema` and commit it"
    )


def _fields_with_unit(node, path="#"):
    """Yield (path, field schema) for every schema object that declares a unit."""
    if isinstance(node, dict):
        if isinstance(node.get("unit"), str):
            yield path, node
        for key, value in node.items():
            yield from _fields_with_unit(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _fields_with_unit(value, f"{path}/{i}")


def _is_numeric(schema) -> bool:
    """A number, or arrays of numbers, optionally nullable."""
    if schema.get("type") in ("number", "integer"):
        return True
    if schema.get("type") == "array":
        return _is_numeric(schema.get("items", {}))
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return bool(options) and all(_is_numeric(s) for s in options)


def _is_si(unit: str) -> bool:
    """True for a coherent SI unit: converting it to SI base units changes nothing."""
    return ureg.Quantity(1.0, unit).to_base_units().magnitude == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("name", sorted(EXPORT.MODELS))
def test_every_unit_is_si(name):
    schema = EXPORT.MODELS[name].model_json_schema()
    fields = list(_fields_with_unit(schema))
    for path, field in fields:
        assert _is_numeric(field), f"{path} declares unit {field['unit']!r} but is not numeric"
        assert _is_si(field["unit"]), f"{path} declares {field['unit']!r}, which is not SI"
        assert f"[{field['unit']}]" in field.get("description", ""), f"{path}: unit not described"
    if name == "entry.schema.json":
        assert len(fields) >= 10


def test_non_si_unit_is_caught():
    assert _is_si("J") and _is_si("A*m**2") and _is_si("m")
    assert not _is_si("eV") and not _is_si("angstrom")
