"""The metadata model: typed sections with units. Imports nothing else of BigMax."""

from bigmax.schema.entry import Author, Entry, EntryState, Upload
from bigmax.schema.experiment import Experiment, SummaryCurve
from bigmax.schema.material import Material, Structure, Symmetry
from bigmax.schema.method import Method, MethodType
from bigmax.schema.properties import BandGap, Properties, ScalarQuantity
from bigmax.schema.provenance import Provenance, SourceFile
from bigmax.schema.results import Results

__all__ = [
    "Author",
    "BandGap",
    "Entry",
    "EntryState",
    "Experiment",
    "Material",
    "Method",
    "MethodType",
    "Properties",
    "Provenance",
    "Results",
    "ScalarQuantity",
    "SourceFile",
    "SummaryCurve",
    "Structure",
    "Symmetry",
    "Upload",
]
