"""Readers and writers, one module per family, and the registry that picks a reader for a file."""
