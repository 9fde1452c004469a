"""Fixtures for search tests: a database filled with synthetic entries on each backend."""

from __future__ import annotations

import pytest
from search_helpers import insert_rows, make_rows


@pytest.fixture
def rows():
    """The synthetic entries, as dicts, for the Python reference."""
    return make_rows(300, seed=7)


@pytest.fixture
def db(engine, rows):
    """``engine`` with ``rows`` inserted."""
    insert_rows(engine, rows)
    return engine
