"""The FastAPI app: the REST API at /api/v1 and OPTIMADE at /optimade."""
