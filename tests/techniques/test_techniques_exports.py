"""Every name the technique packages export resolves to an object of its submodule."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["bigmax.techniques.apt", "bigmax.techniques.mpes"])
def test_exports_resolve(package):
    mod = importlib.import_module(package)
    for name in mod.__all__:
        where = importlib.import_module(f"{package}.{mod._EXPORTS[name]}")
        assert getattr(mod, name) is getattr(where, name), name
    with pytest.raises(AttributeError, match="no attribute"):
        mod.not_a_name  # noqa: B018
