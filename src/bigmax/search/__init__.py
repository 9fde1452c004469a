"""Search: the JSON query model, OPTIMADE filters to SQL, pagination and aggregations."""

from bigmax.search.aggregations import AggregationRequest
from bigmax.search.errors import FilterError, QueryError, UnknownPropertyWarning
from bigmax.search.fields import FIELDS, SearchField, get_field, get_optimade_field
from bigmax.search.optimade_filter import compile_filter
from bigmax.search.query import (
    Pagination,
    SearchRequest,
    SearchResult,
    Selection,
    build_where,
    compile_query,
    get_entries,
    iter_entry_pks,
    search,
    search_request,
)

__all__ = [
    "FIELDS",
    "AggregationRequest",
    "FilterError",
    "Pagination",
    "QueryError",
    "SearchField",
    "SearchRequest",
    "SearchResult",
    "Selection",
    "UnknownPropertyWarning",
    "build_where",
    "compile_filter",
    "compile_query",
    "get_entries",
    "get_field",
    "get_optimade_field",
    "iter_entry_pks",
    "search",
    "search_request",
]
