"""Errors of the search layer: the API turns them into 400 responses with the message as is."""

from __future__ import annotations


class QueryError(ValueError):
    """A query that cannot be run; the message names the field or path and what was expected."""


class FilterError(QueryError):
    """An OPTIMADE filter that cannot be parsed or that uses something we do not support.

    ``not_implemented`` marks constructs the OPTIMADE spec lets us refuse (HTTP 501 rather
    than 400), e.g. ``HAS ONLY`` on a zip or comparing two properties.
    """

    def __init__(self, message: str, *, not_implemented: bool = False) -> None:
        super().__init__(message)
        self.not_implemented = not_implemented


class UnknownPropertyWarning(UserWarning):
    """An OPTIMADE filter named another provider's property; it is treated as unknown (null)."""
