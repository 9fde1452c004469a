"""OPTIMADE v1.2 at /optimade."""
