"""The reader registry: ordering, lookup, matching real files, and plugin loading."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import pytest

from bigmax.io import registry as registry_module
from bigmax.io.base import HEAD_BYTES, Parsed, Reader
from bigmax.io.registry import ReaderRegistry, get_registry, load_registry


def head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


class LoudReader:
    """A plugin reader that claims '.loud' files, with a priority above the built-ins."""

    name: ClassVar[str] = "loud"
    version: ClassVar[str] = "0.1"
    priority: ClassVar[int] = 100

    def matches(self, path: str, head: bytes) -> bool:
        return path.endswith(".loud") or head.startswith(b"LOUD")

    def parse(self, path: Path, root: Path, symprec: float) -> Iterator[Parsed]:
        yield Parsed(None)


class NotAReader:
    name = "broken-shape"


def test_get_registry_is_cached_and_has_builtins():
    reg = get_registry()
    assert reg is get_registry()
    names = [r.name for r in reg.readers]
    assert {"ase", "table"} <= set(names)
    priorities = [r.priority for r in reg.readers]
    assert priorities == sorted(priorities, reverse=True)
    assert all(isinstance(r, Reader) for r in reg.readers)
    assert reg.get("ase").name == "ase"
    with pytest.raises(KeyError, match="no reader named 'nope'.*ase"):
        reg.get("nope")


@pytest.mark.parametrize(
    ("rel", "reader"),
    [
        ("vasp/vasprun.xml", "ase"),
        ("vasp/OUTCAR", "ase"),
        ("nomad2018/train/2/geometry.xyz", "ase"),
        ("qe/fe_h2.pwo", "ase"),
        ("cif/cod_9007661.cif", "ase"),
        ("tables/octet_binaries_82.csv", "table"),
        ("tables/nomad2018_train.csv", "table"),
        ("vasp/PROVENANCE.md", None),
    ],
)
def test_match_real_files(data, rel, reader):
    found = get_registry().match(rel, head(data / rel))
    assert (found.name if found else None) == reader


def test_match_unknown_returns_none():
    assert get_registry().match("readme.txt", b"just some words\n") is None
    assert get_registry().match("empty.xyz", b"") is None


def _entry_points(extra):
    real = list(registry_module.entry_points(group=registry_module.GROUP))

    def fake(group):
        assert group == registry_module.GROUP
        return real + extra

    return fake


def test_plugins_load_and_broken_ones_are_skipped(monkeypatch):
    extra = [
        EntryPoint("loud", f"{__name__}:LoudReader", registry_module.GROUP),
        EntryPoint("missing", "no_such_module_xyz:Reader", registry_module.GROUP),
        EntryPoint("shape", f"{__name__}:NotAReader", registry_module.GROUP),
    ]
    monkeypatch.setattr(registry_module, "entry_points", _entry_points(extra))
    with pytest.warns(RuntimeWarning) as caught:
        reg = load_registry()
    messages = " ".join(str(w.message) for w in caught)
    assert "'missing'" in messages and "'shape'" in messages
    names = [r.name for r in reg.readers]
    assert names[0] == "loud"  # highest priority first
    assert names.count("ase") == 1 and names.count("table") == 1
    assert reg.match("x.loud", b"").name == "loud"
    assert reg.match("a.csv", b"band_gap (eV)\n1\n").name == "table"


def test_matcher_that_raises_is_skipped_with_warning():
    class Faulty(LoudReader):
        name = "faulty"

        def matches(self, path, head):
            raise RuntimeError("boom")

    reg = ReaderRegistry([Faulty()])
    with pytest.warns(RuntimeWarning, match="faulty.*boom"):
        assert reg.match("a.loud", b"") is None


def test_same_name_replaces():
    reg = ReaderRegistry([LoudReader()])

    class Quieter(LoudReader):
        priority = 1

    reg.add(Quieter())
    assert [r.priority for r in reg.readers] == [1]
