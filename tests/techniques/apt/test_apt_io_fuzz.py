"""Hypothesis fuzzing: every reader either reads or raises one clear error (file + byte/line)."""

from __future__ import annotations

import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.techniques.apt.formats import read_ions, write_epos, write_nxapm, write_pos
from bigmax.techniques.apt.ions import APTFormatError, IonData
from bigmax.techniques.apt.ranges import RangeFileError, RangeFileWarning, read_ranges

RANGES = Path(__file__).parents[2] / "data" / "apt" / "ranges"
RAW = Path(__file__).parents[2] / "data" / "apt" / "raw" / "apyt_W_calibration_tap_01_trimmed.raw"
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TMP = Path(tempfile.mkdtemp(prefix="bigmax-apt-fuzz-"))


def _section(name: str, data: np.ndarray, dtype_code: int, unit: str = "",
             extra: bytes = b"") -> bytes:  # fmt: skip
    """One AP Suite section, written from the layout in the reference notes."""
    rec = data.dtype.itemsize * (data.shape[1] if data.ndim > 1 else 1)
    head = struct.pack(
        "<4sii64siIIIii32sQQ", b"SEC\x00", 148 + len(extra), 2,
        name.encode("utf-16-le").ljust(64, b"\0"), 1, 1, 1, dtype_code,
        data.dtype.itemsize * 8, rec, unit.encode("utf-16-le").ljust(32, b"\0"),
        len(data), data.nbytes,
    )  # fmt: skip
    return head + extra + data.tobytes()


def _small_files() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    n = 50
    xyz = rng.normal(0, 10, (n, 3)).astype(np.float32)
    mq = rng.uniform(1, 100, n).astype(np.float32)
    files = {}
    write_pos(TMP / "s.pos", xyz, mq)
    write_epos(TMP / "s.epos", xyz, mq, {"multiplicity": np.ones(n, np.uint32)})
    write_nxapm(TMP / "s.nxs", IonData.from_arrays(xyz, mq))
    apt = struct.pack("<4sii512sQQ", b"APT\x00", 540, 2, b"", 0, n)
    apt += _section("Mass", mq.astype("<f4"), 3, "Da")
    apt += _section("Multiplicity", np.ones(n, "<i4"), 1)
    apt += _section("Position", xyz.astype("<f4"), 3, "nm", np.zeros(6, "<f4").tobytes())
    (TMP / "s.apt").write_bytes(apt)
    ato = np.zeros((n, 14), "<f4")
    ato[:, :3], ato[:, 3] = xyz * 10, mq
    (TMP / "s.ato").write_bytes(np.array([0, 3], "<u4").tobytes() + ato.tobytes())
    (TMP / "s.raw").write_bytes(RAW.read_bytes()[: 32 * n])
    for fmt in ("pos", "epos", "nxs", "apt", "ato", "raw"):
        files[fmt] = (TMP / f"s.{fmt}").read_bytes()
    return files


FILES = _small_files()
FORMAT = {"nxs": "nxapm"}


def _read_all(path: Path, fmt: str) -> None:
    """Read the file and touch every column; only APTFormatError may come out."""
    try:
        ions = read_ions(path, format=FORMAT.get(fmt, fmt))
        if ions.has_positions:
            assert ions.xyz.shape == (len(ions), 3)
        for col in ions.columns.values():
            assert len(col) == len(ions)
    except APTFormatError as err:
        assert str(path) in str(err) and "at byte" in str(err)
        assert 0 <= err.offset


def test_small_files_are_valid():
    for fmt in FILES:
        ions = read_ions(TMP / f"s.{fmt}", format=FORMAT.get(fmt, fmt))
        assert len(ions) == 50, fmt


@pytest.mark.parametrize("fmt", sorted(FILES))
@FUZZ
@given(data=st.data())
def test_truncation(fmt, data):
    blob = FILES[fmt]
    k = data.draw(st.integers(0, len(blob) - 1))
    path = TMP / f"cut_{fmt}.{fmt}"
    path.write_bytes(blob[:k])
    _read_all(path, fmt)


@pytest.mark.parametrize("fmt", sorted(FILES))
@FUZZ
@given(data=st.data())
def test_byte_corruption(fmt, data):
    blob = bytearray(FILES[fmt])
    head = min(len(blob), 1200)  # headers, section headers and the first records
    for _ in range(data.draw(st.integers(1, 8))):
        blob[data.draw(st.integers(0, head - 1))] = data.draw(st.integers(0, 255))
    path = TMP / f"flip_{fmt}.{fmt}"
    path.write_bytes(bytes(blob))
    _read_all(path, fmt)


@pytest.mark.parametrize("fmt", sorted(FILES))
@FUZZ
@given(blob=st.binary(max_size=3000))
def test_random_bytes(fmt, blob):
    path = TMP / f"rand_{fmt}.{fmt}"
    path.write_bytes(blob)
    _read_all(path, fmt)


def _read_ranges(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RangeFileWarning)
        try:
            read_ranges(path)
        except RangeFileError as err:
            assert str(path) in str(err) and f"line {err.line}" in str(err)


REAL = sorted(p for p in RANGES.rglob("*") if p.is_file() and p.stat().st_size < 25_000)
SUFFIX = {".rrng": ".rrng", ".rng": ".rng", ".env": ".env", ".txt": ".fig.txt",
          ".analysis": ".analysis", ".analysisset": ".analysisset"}  # fmt: skip


@FUZZ
@given(st.sampled_from(REAL), st.data())
def test_range_file_mutations(src, data):
    lines = src.read_bytes().splitlines(keepends=True)
    op = data.draw(st.sampled_from(["drop", "cut", "junk", "swap"]))
    i = data.draw(st.integers(0, max(len(lines) - 1, 0)))
    if op == "drop" and lines:
        del lines[i]
    elif op == "cut":
        text = b"".join(lines)
        lines = [text[: data.draw(st.integers(0, len(text)))]]
    elif op == "junk":
        lines.insert(i, data.draw(st.binary(max_size=40)) + b"\n")
    elif lines:
        j = data.draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    path = TMP / ("mut" + SUFFIX[src.suffix.lower()])
    path.write_bytes(b"".join(lines))
    _read_ranges(path)


@pytest.mark.parametrize("suffix", [".rrng", ".rng", ".env", ".fig.txt", ".analysisset"])
@FUZZ
@given(text=st.text(max_size=400))
def test_range_random_text(suffix, text):
    path = TMP / ("rand" + suffix)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _read_ranges(path)
