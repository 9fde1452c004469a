"""BigMax: an open platform for big-data-driven materials science."""

__version__ = "0.1.0"
