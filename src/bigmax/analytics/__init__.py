"""The AI toolkit: scikit-learn estimators that know nothing of the archive.

Each subpackage stands alone (numpy, scipy, scikit-learn, pandas), so a scientist can use it
without a server; the CLI and the API hand off to them.
"""
