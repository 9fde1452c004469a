"""Bad input through registry.match and reader.parse: nothing, error entries or ReaderError.

Random bytes, truncated real files and real content under wrong names must never raise any
other exception type: ingest turns ReaderError into a failed entry, but a stray exception
would be a reader bug.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.io.base import HEAD_BYTES, ReaderError
from bigmax.io.registry import get_registry

DATA = Path(__file__).resolve().parents[1] / "data"
REAL = sorted(p for p in DATA.rglob("*") if p.is_file() and p.name != "PROVENANCE.md")
NAMES = [
    "vasprun.xml",
    "OUTCAR",
    "POSCAR_x",
    "x.vasp",
    "aims.out",
    "geometry.in",
    "geometry.xyz",
    "frames.extxyz",
    "pw.in",
    "x.pwo",
    "x.cif",
    "t.csv",
    "t.tsv",
    "t.parquet",
    "random.bin",
]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(name: str, content: bytes, root: Path) -> None:
    """Write ``content`` as ``name`` and push it through the registry and its reader."""
    path = root / name
    path.write_bytes(content)
    reader = get_registry().match(name, content[:HEAD_BYTES])
    if reader is None:
        return
    try:
        for parsed in reader.parse(path, root, 0.05):
            assert parsed.results is not None or parsed.error, parsed
            if parsed.error is not None:
                assert isinstance(parsed.error, str) and parsed.error
    except ReaderError as err:
        assert name in str(err) or path.name in str(err)


@pytest.fixture(scope="module")
def root():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@SETTINGS
@given(name=st.sampled_from(NAMES), content=st.binary(max_size=2048))
def test_random_bytes(root, name, content):
    run(name, content, root)


# Random text with the markers our sniffers look for, so the readers themselves get fuzzed.
MARKERS = [
    b"Invoking FHI-aims ...\n",
    b"     Program PWSCF v.7.2 starts\n",
    b"&control\n/\n&system\n ibrav=0\n/\n",
    b"lattice_vector 1 0 0\natom 0 0 0 H\n",
    b'2\nLattice="3 0 0 0 3 0 0 0 3" pbc="T T T"\n',
    b"<?xml version='1.0'?>\n<modeling>\n",
    b" vasp.6.3.0\n",
    b"data_x\n_cell_length_a 3\n",
    b"formula,band_gap (eV),structure\n",
    b"PAR1",
]


@SETTINGS
@given(
    name=st.sampled_from(NAMES),
    marker=st.sampled_from(MARKERS),
    tail=st.text(alphabet="0123456789 .-+eEHOalt_x\n,=\"'/&", max_size=400),
)
def test_markers_with_garbage(root, name, marker, tail):
    run(name, marker + tail.encode(), root)


@SETTINGS
@given(source=st.sampled_from(REAL), fraction=st.floats(0.0, 1.0))
def test_truncated_real_files(root, source, fraction):
    content = source.read_bytes()
    run(source.name, content[: int(len(content) * fraction)], root)


@SETTINGS
@given(source=st.sampled_from(REAL), name=st.sampled_from(NAMES))
def test_real_content_wrong_name(root, source, name):
    run(name, source.read_bytes(), root)
