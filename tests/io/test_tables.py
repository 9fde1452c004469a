"""Property tables: header conventions, SI conversion, formulas, linked structures, safety."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bigmax.io.base import HEAD_BYTES, ReaderError
from bigmax.io.tables import PropertyTableReader, parse_formula, split_header

EV = 1.602176634e-19
READER = PropertyTableReader()


def head(path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def test_split_header():
    assert split_header("# Material") == ("Material", None)
    assert split_header("E_RS - E_ZB (eV)") == ("E_RS - E_ZB", "eV")
    assert split_header("Z_A (nuc_charge) ") == ("Z_A", "nuc_charge")
    assert split_header(" r_s_A (AA) ") == ("r_s_A", "AA")
    assert split_header("period_A") == ("period_A", None)


def test_parse_formula():
    assert parse_formula("Al2O3") == {"Al": 2, "O": 3}
    assert parse_formula("Ca(OH)2") == {"Ca": 1, "O": 2, "H": 2}
    assert parse_formula("AgBr") == {"Ag": 1, "Br": 1}
    for bad in ("steel", "Xx2", "Fe(O", "", "2"):
        with pytest.raises(ValueError):
            parse_formula(bad)


def test_octet_binaries(data):
    path = data / "tables/octet_binaries_82.csv"
    assert READER.matches(path.name, head(path))
    rows = list(READER.parse(path, data, 0.01))
    assert len(rows) == 82
    assert [r.child_key for r in rows[:3]] == ["0", "1", "2"]
    first = rows[0].results
    assert first.material.chemical_formula_reduced == "AgBr"
    assert first.material.structure is None
    extra = first.properties.extra
    # First data row of the file: AgBr,-0.030033416711376,47,35,5,4,...,1.32000005245 (r_s_A)
    assert extra["E_RS - E_ZB"].value == pytest.approx(-0.030033416711376 * EV)
    assert (extra["E_RS - E_ZB"].unit, extra["E_RS - E_ZB"].source_unit) == ("J", "eV")
    assert extra["r_s_A"].value == pytest.approx(1.32000005245e-10)
    assert extra["r_s_A"].unit == "m" and extra["r_s_A"].source_unit == "AA"
    assert extra["IP_A"].value == pytest.approx(-8.0580997467 * EV)
    assert extra["Z_A"].value == 47 and extra["Z_A"].unit == "1"
    assert extra["period_A"].value == 5 and extra["period_A"].unit is None
    assert len(extra) == 21


def test_linked_structures(data):
    path = data / "tables/nomad2018_train.csv"
    rows = list(READER.parse(path, data, 0.01))
    assert len(rows) == 4
    first = rows[0]
    assert first.error is None
    assert first.related_files == ["nomad2018/train/1/geometry.xyz"]
    m = first.results.material
    assert m.chemical_formula_hill == "Al20Ga12O48" and m.structure is not None
    p = first.results.properties
    assert p.formation_energy_per_atom == pytest.approx(0.068 * EV)
    assert p.band_gap.value == pytest.approx(3.4387 * EV)
    assert p.extra["spacegroup"].value == 33


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_known_property_aliases_and_units(tmp_path):
    path = write(
        tmp_path,
        "props.csv",
        "formula,Eg (meV),gap_type,e_form (kJ/mol),magmom,Energy (Ry),note\n"
        "GaAs,1420,direct,-1,0.0,-2.5,zb\n",
    )
    # kJ/mol is not an energy: the whole file is refused, naming the column.
    with pytest.raises(ReaderError, match=r"props.csv: column 'e_form \(kJ/mol\)'"):
        list(READER.parse(path, tmp_path, 0.01))
    path.write_text(
        "formula,Eg (meV),gap_type,e_form (eV),magmom,Energy (Ry),note\n"
        "GaAs,1420,direct,-0.5,2.0,-2.5,zb\n"
    )
    (row,) = READER.parse(path, tmp_path, 0.01)
    p = row.results.properties
    assert p.band_gap.value == pytest.approx(1.42 * EV) and p.band_gap.type == "direct"
    assert p.formation_energy_per_atom == pytest.approx(-0.5 * EV)
    assert p.magnetic_moment == pytest.approx(2.0 * 9.2740100783e-24, rel=1e-8)
    assert p.total_energy == pytest.approx(-2.5 * 13.605693122990 * EV, rel=1e-9)
    assert p.extra["note"].value == "zb"
    assert row.results.material.chemical_formula_reduced == "AsGa"


def test_unknown_unit_names_column(tmp_path):
    path = write(tmp_path, "bad.csv", "formula,width (furlongz)\nNaCl,1\n")
    with pytest.raises(ReaderError, match=r"bad.csv: column 'width \(furlongz\)'.*furlongz"):
        list(READER.parse(path, tmp_path, 0.01))


def test_unparsable_formula_kept_as_text(tmp_path):
    path = write(tmp_path, "t.csv", "Material,x (m)\nsteel-316,1\n")
    (row,) = READER.parse(path, tmp_path, 0.01)
    assert row.results.material is None
    assert row.results.properties.extra["Material"].value == "steel-316"


def test_which_csvs_are_tables(tmp_path):
    assert READER.matches("a.csv", b"name,band_gap (eV)\nx,1\n")
    assert READER.matches("a.csv", b"# formula,value\nNaCl,1\n")
    assert READER.matches("a.csv", b"id,structure\n1,a.cif\n")
    assert not READER.matches("a.csv", b"x,y,z\n1,2,3\n")
    assert not READER.matches("a.txt", b"name,band_gap (eV)\nx,1\n")


def test_quoted_headers_as_pyarrow_writes_them(tmp_path):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = tmp_path / "arrow.csv"
    table = pa.table({"band_gap (eV)": [1.5, 2.0], "formula_reduced": ["NaCl", "GaAs"]})
    pacsv.write_csv(table, path)
    assert path.read_bytes().startswith(b'"band_gap (eV)","formula_reduced"')
    assert READER.matches(path.name, head(path))
    rows = list(READER.parse(path, tmp_path, 0.01))
    assert [r.results.material.chemical_formula_reduced for r in rows] == ["ClNa", "AsGa"]
    # A quoted delimiter inside a header is part of the name, not a column break.
    assert READER.matches("a.csv", b'"name, long","x (eV)"\nfoo,1\n')
    assert not READER.matches("a.csv", b'"x, (eV","y"\n1,2\n')


def test_path_rows_are_confined_to_root(tmp_path, data):
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "geo").mkdir()
    geometry = data / "arise/RockSalt_NaCl.in"
    (upload / "geo/nacl.in").write_bytes(geometry.read_bytes())
    outside = tmp_path / "secret.in"
    outside.write_bytes(geometry.read_bytes())
    os.symlink(outside, upload / "geo/link.in")
    path = write(
        upload,
        "links.csv",
        "structure,band_gap (eV)\n"
        "geo/nacl.in,5.0\n"
        f"{outside},1\n"
        "../secret.in,1\n"
        "geo/link.in,1\n"
        "geo/missing.in,1\n",
    )
    rows = list(READER.parse(path, upload, 0.01))
    assert rows[0].error is None
    assert rows[0].results.material.symmetry.space_group_number == 225
    assert rows[0].related_files == ["geo/nacl.in"]
    assert "links.csv row 1" in rows[1].error and "relative" in rows[1].error
    assert "'..'" in rows[2].error
    assert "outside the upload" in rows[3].error
    assert "not found" in rows[4].error


def test_parquet(tmp_path):
    table = pa.table({"formula": ["Ga2O3", "In2O3"], "band_gap (eV)": [4.8, 2.9]})
    path = tmp_path / "gaps.parquet"
    pq.write_table(table, path)
    assert READER.matches(str(path), head(path))
    rows = list(READER.parse(path, tmp_path, 0.01))
    assert [r.results.material.chemical_formula_reduced for r in rows] == ["Ga2O3", "In2O3"]
    assert rows[1].results.properties.band_gap.value == pytest.approx(2.9 * EV)
    # A Parquet file that is no property table (an event list) gives no entry.
    events = tmp_path / "events.parquet"
    pq.write_table(pa.table({"x": [1.0], "y": [2.0]}), events)
    assert not READER.matches(str(events), head(events))
    assert READER.matches("events.parquet", head(events))  # relative name: schema unknown
    assert list(READER.parse(events, tmp_path, 0.01)) == []


def test_negative_band_gap_is_a_row_error(tmp_path):
    path = write(tmp_path, "g.csv", "formula,band_gap (eV)\nNaCl,-1\nKCl,8.4\n")
    bad, good = READER.parse(path, tmp_path, 0.01)
    assert "g.csv row 0" in bad.error
    assert good.results.properties.band_gap.value == pytest.approx(8.4 * EV)
