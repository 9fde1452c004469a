"""Synthetic entries inserted straight into the tables, and a pure-Python query evaluator.

The evaluator is the reference the SQL results are checked against: it is written from the
documented semantics (two-valued logic, NULL never matches a comparison), not from the SQL.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bigmax.archive.db import ArchiveRow, EntryElementRow, EntryRow, UploadRow
from bigmax.archive.elements import element_masks
from bigmax.schema.units import parse_quantity
from bigmax.search.fields import get_field

EV = 1.602176634e-19
ELEMENTS = ["H", "Li", "O", "Si", "Fe", "Ga", "As", "Ba", "U", "Pu"]  # Ba, U, Pu use el_hi
SPACE_GROUPS = [1, 2, 14, 62, 194, 225, 227]
PROGRAMS = ["VASP", "FHI-aims", "exciting", None]
BASE_TIME = datetime(2024, 1, 1)


def make_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` varied entries with NULLs, ties and elements on both masks."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        has_material = rnd.random() > 0.08
        els = sorted(rnd.sample(ELEMENTS, rnd.randint(1, 4))) if has_material else None
        lo, hi = element_masks(els or [])
        sg = rnd.choice(SPACE_GROUPS) if has_material and rnd.random() > 0.1 else None
        gap = None
        if rnd.random() > 0.15:
            gap = 0.0 if rnd.random() < 0.3 else round(rnd.uniform(0, 6), 1) * EV
        formula = "".join(els) if els else None
        rows.append(
            dict(
                pk=i + 1,
                entry_id=f"e{rnd.randrange(16**8):08x}{i:05d}",
                upload_id=f"u{i % 3}",
                mainfile=f"calc/{i}/vasprun.xml",
                parser=rnd.choice(["vasp", "ase", "table"]),
                state=rnd.choice(["success", "success", "failed"]),
                created_at=BASE_TIME + timedelta(hours=rnd.randint(0, 2000)),
                processed_at=(
                    BASE_TIME + timedelta(hours=rnd.randint(0, 2000))
                    if rnd.random() > 0.2
                    else None
                ),
                formula_hill=formula,
                formula_reduced=formula,
                formula_anonymous=("AB"[: len(els)] if els else None),
                elements=",".join(els) if els else None,
                el_lo=lo,
                el_hi=hi,
                n_elements=len(els) if els else None,
                n_sites=rnd.randint(1, 12) if has_material else None,
                space_group_number=sg,
                space_group_symbol=None if sg is None else f"SG{sg}",
                crystal_system=rnd.choice(["cubic", "hexagonal", None]),
                program_name=rnd.choice(PROGRAMS),
                method_type=rnd.choice(["DFT", "GW", None]),
                xc_functional=rnd.choice(["PBE", "LDA", None]),
                total_energy=rnd.choice([None, rnd.uniform(-100, 0) * EV]),
                energy_per_atom=rnd.choice([None, rnd.uniform(-10, 0) * EV]),
                formation_energy_per_atom=rnd.choice([None, round(rnd.uniform(-3, 1), 1) * EV]),
                band_gap=gap,
                band_gap_type=rnd.choice(["direct", "indirect", None]),
            )
        )
    return rows


def insert_rows(engine, rows: list[dict[str, Any]]) -> None:
    """Uploads, entries, entry_elements and archives for ``rows``, in one transaction."""
    uploads = sorted({r["upload_id"] for r in rows})
    with engine.begin() as conn:
        conn.execute(
            insert(UploadRow),
            [dict(upload_id=u, name=u, created_at=BASE_TIME) for u in uploads],
        )
        conn.execute(insert(EntryRow), rows)
        els = [
            dict(element=e, entry_pk=r["pk"])
            for r in rows
            if r["elements"]
            for e in r["elements"].split(",")
        ]
        if els:
            conn.execute(insert(EntryElementRow), els)
        conn.execute(
            insert(ArchiveRow),
            [
                dict(entry_pk=r["pk"], data=json.dumps({"entry_id": r["entry_id"], "n": r["pk"]}))
                for r in rows
            ],
        )


# -- reference evaluation ---------------------------------------------------------------------


def _value(name: str, v: Any) -> Any:
    f = get_field(name)
    if isinstance(v, str) and f.numeric:
        return parse_quantity(v, f.unit or "dimensionless")
    if isinstance(v, str) and f.kind == "datetime":
        moment = datetime.fromisoformat(v.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment
    return v


def _elements(row) -> set[str] | None:
    return set(row["elements"].split(",")) if row["elements"] else None


def _op(row, name: str, op: str, v: Any) -> bool:
    f = get_field(name)
    col = f.column.key
    if f.kind == "elements":
        have = _elements(row)
        want = {v} if isinstance(v, str) else set(v)
        if op in ("eq", "all"):
            return have is not None and want <= have
        if op == "any":
            return have is not None and bool(want & have)
        if op == "none":
            return not (have is not None and bool(want & have))
        if op == "only":
            return have is not None and have <= want
        raise AssertionError(op)
    x = row[col]
    if op == "eq" and v is None:
        return x is None
    if op in ("any", "all", "none"):
        vals = [_value(name, a) for a in (v if isinstance(v, list) else [v])]
        hit_any = x is not None and x in vals
        if op == "any":
            return hit_any
        if op == "none":
            return not hit_any
        return x is not None and all(x == a for a in vals)
    if x is None:
        return False
    v = _value(name, v)
    return {
        "eq": x == v,
        "gt": x > v,
        "gte": x >= v,
        "lt": x < v,
        "lte": x <= v,
    }[op]


def evaluate(query: dict | None, row: dict) -> bool:
    """Does ``row`` match ``query``? Pure Python, two-valued."""
    if not query:
        return True
    for key, value in query.items():
        if key == "and":
            ok = all(evaluate(q, row) for q in value)
        elif key == "or":
            ok = any(evaluate(q, row) for q in value)
        elif key == "not":
            ok = not evaluate(value, row)
        else:
            name, _, op = key.partition(":")
            if op:
                ok = _op(row, name, op, value)
            elif isinstance(value, dict):
                ok = all(_op(row, name, o, v) for o, v in value.items())
            elif isinstance(value, list):
                ok = _op(row, name, "all", value)
            else:
                ok = _op(row, name, "eq", value)
        if not ok:
            return False
    return True
