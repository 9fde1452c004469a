"""Shared pieces of the schema: the section base class and quantities that declare their unit."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """Base of every schema section: unknown fields are an error, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)


def quantity(unit: str, description: str, default: Any = None, **kwargs: Any) -> Any:
    """A field whose JSON Schema carries its storage ``unit`` (SI) next to its description."""
    return Field(
        default=default,
        description=f"{description} [{unit}]",
        json_schema_extra={"unit": unit},
        **kwargs,
    )
