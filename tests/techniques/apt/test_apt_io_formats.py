"""APT binary formats on the real Si set (pos, epos, apt) and the APyT tungsten raw file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bigmax.techniques.apt.formats import (
    detect_format,
    iter_chunks,
    read_ions,
    read_sections,
    write_epos,
    write_ions,
    write_nxapm,
    write_pos,
)
from bigmax.techniques.apt.formats.nxapm import read_nxapm_ranges
from bigmax.techniques.apt.ions import APTFormatError, IonData
from bigmax.techniques.apt.ranges import label_ions, read_ranges

DATA = Path(__file__).parents[2] / "data" / "apt"
RAW = DATA / "raw" / "apyt_W_calibration_tap_01_trimmed.raw"
N_SI = 945_211


@pytest.fixture(scope="module")
def si(apt_si_dir):
    return {fmt: read_ions(apt_si_dir / f"Si.{fmt}") for fmt in ("pos", "epos", "apt")}


def test_si_pos_epos_apt_identical(si):
    for fmt, ions in si.items():
        assert len(ions) == N_SI, fmt
        assert ions.xyz.dtype == np.float32 and ions.xyz.shape == (N_SI, 3)
        assert ions.mq.dtype == np.float32 and ions.mq.shape == (N_SI,)
    assert np.array_equal(si["pos"].xyz, si["epos"].xyz)
    assert np.array_equal(si["pos"].xyz, si["apt"].xyz)
    assert np.array_equal(si["pos"].mq, si["epos"].mq)
    assert np.array_equal(si["pos"].mq, si["apt"].mq)
    # values a user can check: extent 40 x 39 x 75 nm, m/q 0..378 Da
    ext = si["pos"].xyz.max(0) - si["pos"].xyz.min(0)
    assert np.allclose(ext, [40.1, 39.1, 75.1], atol=0.5)
    assert 370 < si["pos"].mq.max() < 380


def test_si_epos_columns_match_apt_sections(si):
    epos, apt = si["epos"], si["apt"]
    assert set(epos.columns) == {
        "tof", "v_dc", "v_pulse", "det_x", "det_y", "delta_pulse", "multiplicity",
    }  # fmt: skip
    mult = epos.columns["multiplicity"]
    assert mult.dtype == np.uint32
    # 906,554 single hits and 20,366 continuation records (reference notes, verified on bytes)
    assert int((mult == 1).sum()) == 906_554
    assert int((mult == 0).sum()) == 20_366
    assert np.array_equal(mult, apt.columns["multiplicity"])
    assert np.array_equal(epos.columns["det_x"], apt.columns["det_x"])
    assert np.array_equal(epos.columns["det_y"], apt.columns["det_y"])
    assert np.array_equal(apt.columns["detector_coordinates"][:, 0], apt.columns["det_x"])


def test_si_apt_sections_and_header(apt_si_dir, si):
    header, sections = read_sections(apt_si_dir / "Si.apt")
    assert header["ion_count"] == N_SI
    assert header["created"].startswith("2021-03-23")
    names = [s.name for s in sections]
    assert names == [
        "tofc", "Mass", "XDet_mm", "YDet_mm", "Multiplicity", "Detector Coordinates", "Position",
    ]  # fmt: skip
    pos = sections[-1]
    assert pos.header_size == 172 and pos.width == 3
    bbox = si["apt"].metadata["bounding_box"]
    xyz = si["pos"].xyz
    assert bbox == pytest.approx([xyz[:, 0].min(), xyz[:, 0].max(), xyz[:, 1].min(),
                                  xyz[:, 1].max(), xyz[:, 2].min(), xyz[:, 2].max()])  # fmt: skip
    tofc = si["apt"].columns["tofc"]
    assert 0 < tofc.min() and tofc.max() < 7300


def test_apt_reads_only_requested_sections(apt_si_dir):
    ions = read_ions(apt_si_dir / "Si.apt", columns=["mq", "multiplicity"])
    assert list(ions.columns) == ["multiplicity"]
    assert not ions.has_positions
    with pytest.raises(APTFormatError, match="no reconstructed positions"):
        _ = ions.xyz
    assert len(ions.mq) == N_SI


def test_lazy_columns_are_converted_on_demand(apt_si_dir):
    ions = read_ions(apt_si_dir / "Si.epos")
    assert "loaded=[]" in repr(ions.columns)
    ions.columns["det_x"]
    assert "loaded=['det_x']" in repr(ions.columns)


def test_iter_chunks_concatenate_to_the_whole(apt_si_dir, si):
    for fmt in ("pos", "epos", "apt"):
        chunks = list(iter_chunks(apt_si_dir / f"Si.{fmt}", 300_000))
        assert [len(c) for c in chunks] == [300_000, 300_000, 300_000, 45_211]
        assert np.array_equal(np.concatenate([c.mq for c in chunks]), si["pos"].mq)
        assert np.array_equal(np.concatenate([c.xyz for c in chunks]), si["pos"].xyz)
    with pytest.raises(ValueError, match="chunk_ions"):
        next(iter_chunks(apt_si_dir / "Si.pos", 0))


def test_pos_epos_round_trip(tmp_path, si):
    src = si["epos"]
    write_pos(tmp_path / "a.pos", src.xyz, src.mq, chunk=100_000)
    back = read_ions(tmp_path / "a.pos")
    assert np.array_equal(back.xyz, src.xyz) and np.array_equal(back.mq, src.mq)
    write_ions(tmp_path / "b.epos", src)
    back = read_ions(tmp_path / "b.epos")
    assert np.array_equal(back.xyz, src.xyz)
    for name, col in src.columns.items():
        assert np.array_equal(back.columns[name], col), name
    assert (tmp_path / "b.epos").read_bytes() == Path(src.source).read_bytes()


def test_write_epos_fills_missing_columns_and_checks_names(tmp_path):
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(1000, 3)).astype(np.float32)
    mq = rng.uniform(1, 100, 1000).astype(np.float32)
    mult = rng.integers(0, 3, 1000).astype(np.uint32)
    write_epos(tmp_path / "c.epos", xyz, mq, {"multiplicity": mult}, chunk=333)
    back = read_ions(tmp_path / "c.epos")
    assert np.array_equal(back.columns["multiplicity"], mult)
    assert not back.columns["tof"].any()
    with pytest.raises(ValueError, match="'foo' is not an ePOS field"):
        write_epos(tmp_path / "d.epos", xyz, mq, {"foo": mult})
    with pytest.raises(ValueError, match="xyz"):
        write_pos(tmp_path / "d.pos", xyz[:, :2], mq)


def test_nxapm_round_trip_with_ranges(tmp_path, apt_si_dir, si):
    import h5py

    ranges = read_ranges(apt_si_dir / "Si.RRNG")
    out = tmp_path / "si.nxs"
    write_nxapm(out, si["epos"], ranges, chunk=400_000)
    assert detect_format(out) == "nxapm"
    back = read_ions(out)
    assert np.array_equal(back.xyz, si["pos"].xyz) and np.array_equal(back.mq, si["pos"].mq)
    assert np.array_equal(back.columns["multiplicity"], si["epos"].columns["multiplicity"])
    ion_type = back.columns["ion_type"]
    assert ion_type.dtype == np.uint16
    assert np.array_equal(ion_type.astype(np.int32) - 1, label_ions(si["pos"].mq, ranges, by="ion"))
    with h5py.File(out) as f:
        assert f["entry1/definition"][()] == b"NXapm"
        assert f["entry1"].attrs["NX_class"] == "NXentry"
        peaks = f["entry1/atom_probe/ranging/peak_identification"]
        assert peaks["number_of_ion_types"][()] == len(ranges.ions) + 1
        cro = [peaks[k] for k in peaks if k.startswith("ion") and peaks[k]["name"][()] == b"CrO"]
        (cro,) = cro
        # Cr (Z 24) and O (Z 8), isotope unspecified (N = 255), sorted descending, zero-padded
        assert list(cro["nuclide_hash"][:3]) == [24 + 256 * 255, 8 + 256 * 255, 0]
        assert cro["mass_to_charge_range"].shape == (6, 2)
        pos = f["entry1/atom_probe/reconstruction/reconstructed_positions"]
        assert pos.attrs["units"] == "nm"
    table = read_nxapm_ranges(out)
    assert sorted(zip(table.lo, table.hi, strict=True)) == sorted(
        zip(ranges.lo, ranges.hi, strict=True)
    )


def test_raw_detector_events():
    ions = read_ions(RAW)
    assert ions.format == "raw" and len(ions) == 100_000
    assert not ions.has_positions
    c = ions.columns
    assert 14_500 < c["v_dc"].min() and c["v_dc"].max() < 14_750  # V, laser pulsing
    assert not c["v_pulse"].any()
    assert np.abs(c["det_x"]).max() < 75 and np.abs(c["det_y"]).max() < 75
    assert 80 < c["tof"].min() and c["tof"].max() < 4300
    assert np.all(np.diff(c["pulse_number"].astype(np.int64)) >= 0)


@pytest.mark.parametrize("order", ["<", ">"])
def test_ato_v3_both_byte_orders(tmp_path, si, order):
    src = si["pos"].chunk(0, 5000)
    n = len(src)
    rec = np.zeros((n, 14), dtype=f"{order}f4")
    rec[:, :3] = src.xyz * 10  # Angstrom in the file
    rec[:, 3] = src.mq
    rec[:, 7] = np.linspace(0.1, 2.0, n)  # tof, us
    path = tmp_path / "a.ato"
    with open(path, "wb") as fh:
        fh.write(np.array([0, 3], "<u4").tobytes())
        rec.tofile(fh)
    ions = read_ions(path)
    assert ions.metadata["byte_order"] == ("little" if order == "<" else "big")
    assert np.allclose(ions.xyz, src.xyz, rtol=1e-6, atol=1e-6)
    assert np.array_equal(ions.mq, src.mq)
    assert np.allclose(ions.columns["tof"], rec[:, 7])


def test_ato_v5(tmp_path):
    n = 100
    rec = np.zeros(n, dtype=[("x", "<i2"), ("y", "<i2"), ("z", "<f4"), ("mq", "<f4"),
                              ("rest", "u1", 28)])  # fmt: skip
    rec["x"], rec["y"] = np.arange(n), -np.arange(n)
    rec["z"], rec["mq"] = np.arange(n) * 10.0, np.linspace(1, 100, n)
    path = tmp_path / "b.ato"
    head = np.zeros(5000, np.uint8)
    head[4] = 5
    path.write_bytes(head.tobytes() + rec.tobytes())
    ions = read_ions(path)
    assert ions.metadata["version"] == 5
    assert np.allclose(ions.xyz[:, 0], np.arange(n) * 0.01)
    assert np.allclose(ions.xyz[:, 2], np.arange(n))
    assert np.array_equal(ions.mq, rec["mq"])


def test_from_arrays_checks_shapes():
    with pytest.raises(ValueError, match="xyz"):
        IonData.from_arrays(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="mq"):
        IonData.from_arrays(np.zeros((3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="column 'tof'"):
        IonData.from_arrays(np.zeros((3, 3)), np.zeros(3), {"tof": np.zeros(2)})
    ions = IonData.from_arrays(np.zeros((3, 3)), np.arange(3), {"tof": np.ones(3)})
    assert ions.mq.dtype == np.float32 and len(ions.chunk(1, 10)) == 2


def test_truncated_and_wrong_size_files_name_file_and_offset(tmp_path, apt_si_dir):
    data = (apt_si_dir / "Si.pos").read_bytes()[: 16 * 100 + 7]
    bad = tmp_path / "cut.pos"
    bad.write_bytes(data)
    with pytest.raises(APTFormatError, match=r"cut\.pos: at byte 1600: .*7 trailing bytes"):
        read_ions(bad)
    bad = tmp_path / "cut.epos"
    bad.write_bytes((apt_si_dir / "Si.epos").read_bytes()[:440 + 43])
    with pytest.raises(APTFormatError, match=r"cut\.epos: at byte 440"):
        read_ions(bad)
    apt = (apt_si_dir / "Si.apt").read_bytes()
    bad = tmp_path / "cut.apt"
    bad.write_bytes(apt[: len(apt) // 2])
    with pytest.raises(APTFormatError, match=r"cut\.apt: at byte \d+: section .* truncated"):
        read_ions(bad)
    bad.write_bytes(b"XPT\x00" + apt[4:1000])
    with pytest.raises(APTFormatError, match=r"at byte 0: bad signature"):
        read_ions(bad, format="apt")
    bad = tmp_path / "x.weird"
    bad.write_bytes(b"1234")
    with pytest.raises(APTFormatError, match="unknown APT format"):
        read_ions(bad)
