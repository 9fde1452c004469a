"""Storage: the metadata database, the raw-file store, the upload lifecycle and ids."""
