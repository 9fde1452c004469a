"""The ASE reader on real files: matching by name and content, values in SI, frames, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bigmax.io.base import HEAD_BYTES, ReaderError
from bigmax.io.structures import ASEReader, read_atoms, sniff_format
from bigmax.schema import MethodType

EV = 1.602176634e-19
RY = 13.605693122990  # eV, as ase.units.Rydberg (CODATA 2018)
READER = ASEReader()


def head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def parse(path: Path, root: Path, symprec: float = 0.01):
    assert READER.matches(path.name, head(path)), path
    return list(READER.parse(path, root, symprec))


@pytest.mark.parametrize(
    ("rel", "fmt"),
    [
        ("vasp/vasprun.xml", "vasp-xml"),
        ("vasp/OUTCAR", "vasp-out"),
        ("vasp/POSCAR_example", "vasp"),
        ("aims/aims.out", "aims-output"),
        ("nomad2018/train/1/geometry.xyz", "aims"),
        ("arise/Wurtzite_ZnS.in", "aims"),
        ("qe/pw.in", "espresso-in"),
        ("qe/si_cell.pwo", "espresso-out"),
        ("cif/cod_1010995.cif", "cif"),
        ("extxyz/nomad2018_train_5-7.extxyz", "extxyz"),
        ("tables/octet_binaries_82.csv", None),
    ],
)
def test_sniff_real_files(data, rel, fmt):
    path = data / rel
    assert sniff_format(path.name, head(path)) == fmt


def test_names_and_content_both_count(data):
    poscar = head(data / "vasp/POSCAR_example")
    assert sniff_format("POSCAR_relaxed", poscar) == "vasp"
    assert sniff_format("CONTCAR", poscar) == "vasp"
    assert sniff_format("Ni18.vasp", poscar) == "vasp"
    aims = head(data / "nomad2018/train/1/geometry.xyz")
    assert sniff_format("geometry.in", aims) == "aims"
    assert sniff_format("geometry.xyz", aims) == "aims"  # named .xyz, FHI-aims inside
    assert sniff_format("notes.txt", aims) is None
    # QE output under any name; an OUTCAR name without VASP content is not ours.
    assert sniff_format("run.log", head(data / "qe/si_cell.pwo")) == "espresso-out"
    assert sniff_format("OUTCAR", b"hello world\n") is None
    assert sniff_format("vasprun.xml", b"<?xml version='1.0'?><root/>") is None
    assert sniff_format("x.xyz", b"\x00\x01\x02") is None


def test_vasprun(data):
    (p,) = parse(data / "vasp/vasprun.xml", data)
    assert p.child_key is None and p.error is None
    text = (data / "vasp/vasprun.xml").read_text()
    e0 = float(re.findall(r'name="e_0_energy">\s*(\S+)', text)[-1])
    r = p.results
    assert r.properties.total_energy == pytest.approx(e0 * EV, rel=1e-12)
    assert r.properties.energy_per_atom == pytest.approx(e0 * EV / 2, rel=1e-12)
    # vasprun stress is in kbar with pressure positive; stored Cauchy stress is in Pa.
    assert np.allclose(r.properties.stress, np.diag([165.99562580] * 3) * 1e8, rtol=1e-8)
    assert r.material.chemical_formula_reduced == "C"
    assert r.material.symmetry.space_group_number == 227
    m = r.method
    assert (m.program_name, m.program_version, m.method_type) == ("VASP", "6.3.0", MethodType.DFT)
    assert m.k_mesh == [4, 4, 4]
    assert m.xc_functional == "LDA"  # GGA unset and LDA POTCARs ("PAW C 22Mar2012")


def test_outcar_forces_match_file(data):
    (p,) = parse(data / "vasp/OUTCAR", data)
    text = (data / "vasp/OUTCAR").read_text()
    block = text.rsplit("TOTAL-FORCE (eV/Angst)", 1)[1].split("-----\n", 1)[1]
    rows = []
    for line in block.splitlines():
        if line.strip().startswith("---"):
            break
        rows.append([float(x) for x in line.split()[3:6]])
    forces = np.array(rows)
    props = p.results.properties
    assert len(props.forces) == 18
    assert np.allclose(props.forces, forces * EV * 1e10, rtol=1e-6)
    assert props.max_force == pytest.approx(np.linalg.norm(forces, axis=1).max() * EV * 1e10)
    e0 = float(re.findall(r"energy\(sigma->0\) =\s*(\S+)", text)[-1])
    assert props.total_energy == pytest.approx(e0 * EV, rel=1e-12)
    # "in kB" line: xx yy zz xy yz zx, pressure positive; ours is stress in Pa.
    kb = [float(x) for x in re.findall(r"in kB(.*)", text)[-1].split()]
    assert props.stress[0][0] == pytest.approx(-kb[0] * 1e8, rel=1e-6)
    assert props.stress[0][1] == pytest.approx(-kb[3] * 1e8, rel=1e-6)
    m = p.results.method
    assert (m.program_name, m.program_version, m.xc_functional) == ("VASP", "5.3.3", "PBE")
    assert p.results.material.chemical_formula_hill == "Ni18"


def test_aims_output(data):
    (p,) = parse(data / "aims/aims.out", data)
    r = p.results
    assert r.properties.total_energy == pytest.approx(-0.130174218930995e02 * EV, rel=1e-12)
    assert r.properties.magnetic_moment == pytest.approx(1.0 * 9.2740100783e-24, rel=1e-6)
    m = r.method
    assert (m.program_name, m.program_version, m.xc_functional) == ("FHI-aims", "221103", "pw-lda")
    assert r.material.chemical_formula_hill == "H"
    assert r.material.dimensionality == 0


def test_quantum_espresso_output_frames(data):
    parsed = parse(data / "qe/si_cell.pwo", data)
    assert [p.child_key for p in parsed] == ["0", "1", "2"]
    energies = [p.results.properties.total_energy for p in parsed]
    assert energies == pytest.approx(
        [x * RY * EV for x in (-21.58743321, -21.70179088, -21.70223615)], rel=1e-9
    )
    last = parsed[-1].results
    assert last.material.symmetry.space_group_number == 227
    assert last.method.program_version == "7.4"
    assert last.method.xc_functional == "PBE"


def test_quantum_espresso_input(data):
    (p,) = parse(data / "qe/pw.in", data)
    r = p.results
    assert r.material.chemical_formula_hill == "Fe6H2"
    assert r.method.program_name == "Quantum ESPRESSO"
    assert r.method.k_mesh == [2, 2, 2]
    assert r.properties.total_energy is None


def test_nomad2018_geometry_named_xyz(data):
    (p,) = parse(data / "nomad2018/train/1/geometry.xyz", data)
    m = p.results.material
    assert m.chemical_formula_hill == "Al20Ga12O48"
    assert m.chemical_formula_reduced == "Al5Ga3O12"
    assert m.n_sites == 80 and m.dimensionality == 3
    assert m.structure.cell[0][0] == pytest.approx(9.9520877199999997e-10)


def test_cif_space_groups(data):
    (sic,) = parse(data / "cif/cod_1010995.cif", data)
    assert sic.results.material.symmetry.space_group_number == 216
    (mos2,) = parse(data / "cif/cod_9007661.cif", data)
    assert mos2.results.material.symmetry.space_group_number == 160
    assert mos2.results.material.dimensionality == 2


def test_extxyz_frames_info_keys(data):
    parsed = parse(data / "extxyz/nomad2018_train_5-7.extxyz", data)
    assert [p.child_key for p in parsed] == ["0", "1", "2"]
    first = parsed[0].results
    # nomad2018 train.csv row 5: formation 0.0505 eV/atom, band gap 1.3793 eV, group 194.
    assert first.properties.formation_energy_per_atom == pytest.approx(0.0505 * EV)
    assert first.properties.band_gap.value == pytest.approx(1.3793 * EV)
    assert first.properties.band_gap.type == "unknown"
    assert first.properties.extra["spacegroup_label"].value == 194
    assert first.properties.extra["nomad2018_id"].value == 5
    assert first.method.program_name == "FHI-aims"
    assert first.method.xc_functional == "PBE"
    assert first.method.method_type == MethodType.DFT


def test_single_frame_has_no_child_key(tmp_path, data):
    one = tmp_path / "one.xyz"
    lines = (data / "extxyz/nomad2018_train_5-7.extxyz").read_text().splitlines()
    n = int(lines[0])
    one.write_text("\n".join(lines[: n + 2]) + "\n")
    (p,) = parse(one, tmp_path)
    assert p.child_key is None


def test_extxyz_energy_and_extra(tmp_path):
    path = tmp_path / "frames.extxyz"
    path.write_text(
        "2\n"
        'Lattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3:forces:R:3 '
        "energy=-7.5 band_gap=1.1 band_gap_type=direct temperature=300.0 label=bcc "
        'basis_set="plane waves" pbc="T T T"\n'
        "Fe 0 0 0 0.1 0 0\n"
        "Fe 1.5 1.5 1.5 -0.1 0 0\n"
    )
    (p,) = parse(path, tmp_path)
    props = p.results.properties
    assert props.total_energy == pytest.approx(-7.5 * EV)
    assert props.band_gap.type == "direct"
    assert props.forces[0][0] == pytest.approx(0.1 * EV * 1e10)
    assert props.extra["temperature"].value == 300.0 and props.extra["temperature"].unit is None
    assert props.extra["label"].value == "bcc"
    assert p.results.method.basis_set == "plane waves"
    assert p.results.material.symmetry.space_group_number == 229


def test_bad_frame_gives_error_entry(tmp_path):
    path = tmp_path / "mixed.xyz"
    path.write_text("1\nenergy=1.0\nH 0 0 0\n1\nenergy=2.0\nX 0 0 0\n")
    first, second = parse(path, tmp_path)
    assert first.error is None and first.child_key == "0"
    assert second.results is None
    assert "mixed.xyz frame 1" in second.error and "atomic number 0" in second.error


def test_truncated_file_raises_reader_error(tmp_path, data):
    path = tmp_path / "vasprun.xml"
    path.write_bytes((data / "vasp/vasprun.xml").read_bytes()[:3000])
    with pytest.raises(ReaderError, match="vasprun.xml"):
        list(READER.parse(path, tmp_path, 0.01))


def test_read_atoms(data):
    frames = read_atoms(data / "qe/si_cell.pwo")
    assert len(frames) == 3
    with pytest.raises(ReaderError, match="not a structure format"):
        read_atoms(data / "tables/octet_binaries_82.csv")
