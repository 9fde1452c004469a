"""The normalized, searchable summary of an entry (NOMAD calls it ``results``)."""

from __future__ import annotations

from pydantic import Field

from bigmax.schema.base import Section
from bigmax.schema.experiment import Experiment
from bigmax.schema.material import Material
from bigmax.schema.method import Method
from bigmax.schema.properties import Properties


class Results(Section):
    material: Material | None = None
    method: Method = Field(default_factory=Method)
    properties: Properties = Field(default_factory=Properties)
    experiment: Experiment | None = None
