"""Pipelines for experimental big data: atom probe (``apt``) and photoemission (``mpes``).

Each technique stands alone (numpy, numba, dask, xarray, h5py); the archive sees them only
through their readers in ``bigmax.io``.
"""
