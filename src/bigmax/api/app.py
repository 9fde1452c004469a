"""The app factory: one process serves /api/v1, /optimade and (later) the GUI."""

from __future__ import annotations

import importlib
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

import bigmax
from bigmax.api.deps import BearerTokenAuthenticator
from bigmax.api.throttle import LoginThrottle
from bigmax.api.types import RejectNul, validation_error
from bigmax.archive.datasets import DatasetError
from bigmax.archive.db import init_db, make_engine
from bigmax.archive.lifecycle import PermissionDenied
from bigmax.archive.processing import recover_interrupted
from bigmax.archive.store import FileStore
from bigmax.archive.users import AuthError
from bigmax.config import Settings, get_settings
from bigmax.search.cache import CountCache
from bigmax.search.errors import QueryError

#: Router modules, each with a module-level ``router``; mounted in this order.
ROUTERS = (
    "bigmax.api.v1.auth",
    "bigmax.api.v1.uploads",
    "bigmax.api.v1.entries",
    "bigmax.api.v1.datasets",
    "bigmax.api.optimade.routes",
    "bigmax.web.routes",  # the GUI at / (issue 4)
)


def _error(status: int):
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    return handler


def _warm() -> None:
    """Load what the first search would otherwise load inside a request: the unit registry
    (~2 s) and the OPTIMADE grammar. Runs in a background thread at start-up."""
    try:
        from bigmax.schema.units import parse_quantity
        from bigmax.search.optimade_filter import parse_filter
        from bigmax.search.optimade_properties import structure_properties

        parse_quantity("1 eV", "J")
        parse_filter("nelements=1")
        structure_properties()
    except Exception:  # only a head start: a real request reports any problem
        pass


@asynccontextmanager
async def _lifespan(app: FastAPI):
    threading.Thread(target=_warm, name="bigmax-warm-up", daemon=True).start()
    yield
    # let a running ingest job finish its file (each commits atomically) before the engine goes
    processor = getattr(app.state, "processor", None)
    if processor is not None:
        processor.shutdown(wait=True)
    app.state.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=_lifespan,
        title="BigMax",
        version=bigmax.__version__,
        description="A FAIR archive for materials science: REST API and OPTIMADE.",
        docs_url="/api/v1/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    engine = make_engine(settings.database_url)
    init_db(engine)
    recover_interrupted(engine)  # jobs of a server that stopped mid-way are marked failed
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = FileStore(settings.files_url)
    app.state.authenticators = [BearerTokenAuthenticator()]
    app.state.login_throttle = LoginThrottle()
    app.state.counts = CountCache()  # totals by archive generation, shared by both APIs
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(DataError, _error(400))
    app.add_middleware(RejectNul)
    app.add_exception_handler(QueryError, _error(400))
    app.add_exception_handler(DatasetError, _error(400))
    app.add_exception_handler(AuthError, _error(401))
    app.add_exception_handler(PermissionDenied, _error(403))
    app.add_exception_handler(LookupError, _error(404))
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)

    @app.get("/api/v1/info", tags=["info"])
    def info() -> dict:
        """Version and the database backend."""
        return {"name": "BigMax", "version": bigmax.__version__, "database": engine.dialect.name}

    return app
