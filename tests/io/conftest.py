"""Paths to the real files in tests/data used by the reader tests."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def data() -> Path:
    """tests/data, which the reader tests treat as the upload root."""
    return DATA
