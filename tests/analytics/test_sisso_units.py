"""Units of SISSO features: parsing, arithmetic, headers and errors."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.analytics.sisso.units import Unit, UnitError, parse_header, parse_unit, unit_matrix


def test_parse_and_print():
    assert str(parse_unit("AA^3")) == "AA^3"
    assert str(parse_unit("eV/AA")) == "eV AA^-1"
    assert str(parse_unit("eV_IP AA^-1")) == "eV_IP AA^-1"
    assert str(parse_unit("m^1/2")) == "m^1/2"
    assert str(parse_unit("K**0.5")) == "K^1/2"
    assert parse_unit("eV*AA^-2") == parse_unit("eV AA^-2")
    assert parse_unit("s^(-1)") == parse_unit("s^-1")
    for s in ("", "1", "dimensionless", "  "):
        assert parse_unit(s).is_dimensionless
    assert parse_unit("eV") != parse_unit("eV_IP")  # distinct names are distinct units


def test_arithmetic_and_hash():
    ev, aa = parse_unit("eV"), parse_unit("AA")
    assert (ev / aa) * aa == ev
    assert (aa**3) ** Fraction(1, 3) == aa
    assert (aa / aa).is_dimensionless
    assert str(aa**-1) == "AA^-1"
    assert hash(parse_unit("eV AA")) == hash(parse_unit("AA*eV"))
    assert parse_unit("eV AA") == "AA eV"
    assert Unit.dimensionless() == Unit({"AA": 0})
    assert dict(parse_unit("eV^2 AA^-1")) == {"eV": 2, "AA": -1}


def test_headers():
    assert parse_header(" r_s_A (AA) ") == ("r_s_A", parse_unit("AA"))
    assert parse_header("IP_A (eV_IP) ") == ("IP_A", parse_unit("eV_IP"))
    assert parse_header("period_A") == ("period_A", Unit.dimensionless())
    assert parse_header("E_RS - E_ZB (eV)") == ("E_RS - E_ZB", parse_unit("eV"))
    with pytest.raises(UnitError, match="'bad'"):
        parse_header("bad (eV^x)")
    with pytest.raises(UnitError):
        parse_header("(eV)")


@pytest.mark.parametrize("text", ["eV^x", "AA^", "(eV", "eV/", "3eV", "eV//AA", "eV^1/0", "a-b"])
def test_bad_units(text):
    with pytest.raises(UnitError, match="unit"):
        parse_unit(text)
    assert issubclass(UnitError, ValueError)


def test_unit_matrix():
    bases, m = unit_matrix([parse_unit("eV"), parse_unit("eV/AA"), Unit.dimensionless()])
    assert bases == ("eV", "AA")
    assert m.tolist() == [[1, 0], [1, -1], [0, 0]]


_names = st.sampled_from(["eV", "AA", "eV_IP", "nuc_charge", "s", "K"])
_exps = st.fractions(min_value=-6, max_value=6, max_denominator=6)
_units = st.dictionaries(_names, _exps, max_size=4).map(Unit)


@settings(max_examples=200, deadline=None)
@given(_units, _units)
def test_roundtrip_and_group_laws(u, v):
    assert parse_unit(str(u)) == u
    assert (u * v) / v == u
    assert u * v == v * u
    assert (u**2) == u * u


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_parse_never_crashes(text):
    try:
        u = parse_unit(text)
    except UnitError as err:
        assert "unit" in str(err)
    else:
        assert isinstance(u, Unit)
        assert parse_unit(str(u)) == u
