"""Datasets: create, list, fill and freeze collections of entries for citation.

Open datasets are seen only by their owner; frozen ones by everyone. Member lists and counts
only ever show entries the viewer may read. Freezing gives a local persistent id
(``bigmax:ds/<hash>``) and a citation text; minting a DataCite DOI is not offered.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from bigmax.api.deps import EngineDep, UserDep, ViewerDep
from bigmax.api.types import DbText, UtcDatetime
from bigmax.archive import datasets as ds
from bigmax.archive.datasets import MAX_ENTRIES_PER_CALL, MAX_NAME, Dataset

router = APIRouter(
    prefix="/api/v1/datasets",
    tags=["datasets"],
    responses={404: {"description": "No such dataset, or one you may not see"}},
)


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DbText = Field(min_length=1, max_length=MAX_NAME)
    description: DbText | None = Field(None, max_length=10_000)


class EntryIds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_ids: list[DbText] = Field(min_length=1, max_length=MAX_ENTRIES_PER_CALL)


class DatasetOut(BaseModel):
    """A dataset; `n_entries` and `entry_ids` count only entries you may read."""

    dataset_id: str
    name: str
    description: str | None
    owner: str | None = Field(description="Username of the owner")
    created_at: UtcDatetime
    frozen: bool
    frozen_at: UtcDatetime | None
    pid: str | None = Field(description="Persistent id (bigmax:ds/...), set when frozen")
    citation: str | None = Field(description="How to cite it, set when frozen")
    n_entries: int
    entry_ids: list[str] | None = None


def _out(d: Dataset, with_ids: bool = True) -> DatasetOut:
    return DatasetOut(
        dataset_id=d.dataset_id,
        name=d.name,
        description=d.description,
        owner=d.owner,
        created_at=d.created_at,
        frozen=d.frozen,
        frozen_at=d.frozen_at,
        pid=d.pid,
        citation=d.citation,
        n_entries=d.n_entries,
        entry_ids=d.entry_ids if with_ids else None,
    )


@router.post("", status_code=201, response_model=DatasetOut)
def create(body: DatasetCreate, engine: EngineDep, user: UserDep) -> DatasetOut:
    """A new, empty dataset that you own."""
    return _out(ds.create_dataset(engine, user.viewer, body.name, body.description))


@router.get("", response_model=list[DatasetOut])
def list_all(engine: EngineDep, viewer: ViewerDep) -> list[DatasetOut]:
    """Frozen datasets and your own, newest first (without member ids)."""
    return [_out(d, with_ids=False) for d in ds.list_datasets(engine, viewer)]


@router.get("/{dataset_id}", response_model=DatasetOut)
def get(dataset_id: str, engine: EngineDep, viewer: ViewerDep) -> DatasetOut:
    """One dataset with the ids of the members you may read."""
    return _out(ds.get_dataset(engine, viewer, dataset_id))


@router.post(
    "/{dataset_id}/entries",
    response_model=DatasetOut,
    responses={400: {"description": "Frozen, or unknown or unreadable entries"}},
)
def add(dataset_id: str, body: EntryIds, engine: EngineDep, user: UserDep) -> DatasetOut:
    """Add entries you may read to your open dataset (adding a member again is a no-op)."""
    return _out(ds.add_entries(engine, user.viewer, dataset_id, body.entry_ids))


@router.delete(
    "/{dataset_id}/entries",
    response_model=DatasetOut,
    responses={400: {"description": "The dataset is frozen"}},
)
def remove(dataset_id: str, body: EntryIds, engine: EngineDep, user: UserDep) -> DatasetOut:
    """Remove entries from your open dataset; ids that are not members are ignored."""
    return _out(ds.remove_entries(engine, user.viewer, dataset_id, body.entry_ids))


@router.post(
    "/{dataset_id}/action/freeze",
    response_model=DatasetOut,
    responses={400: {"description": "Already frozen, or empty"}},
)
def freeze(dataset_id: str, engine: EngineDep, user: UserDep) -> DatasetOut:
    """Make the dataset immutable and public; returns its persistent id and citation.

    The id is a stable local PID (`bigmax:ds/...`), not a DOI: DOI minting is not offered."""
    return _out(ds.freeze(engine, user.viewer, dataset_id))
