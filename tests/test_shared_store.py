"""A local Chroma store shared by processes: reads from the snapshot, writes under a lock."""

from __future__ import annotations

from pathlib import Path

import chromadb
import pytest
from chromadb.api.client import SharedSystemClient

from supportgraph.knowledge import shared_store
from supportgraph.knowledge.chunking import Chunk
from supportgraph.knowledge.embedder import ChromaEmbeddingFunction, Embedder
from supportgraph.knowledge.index import REVISION_CHECK_S, KnowledgeIndex
from supportgraph.knowledge.shared_store import SharedLocalChroma, snapshot_path, write_snapshot

CHUNKS = [
    Chunk("returns#window", "returns", "Returns", "window", "You can return items within 30 days."),
    Chunk("shipping#times", "shipping", "Shipping", "times", "Standard shipping takes 3-5 days."),
    Chunk("payments#cards", "payments", "Payments", "cards", "We accept Visa and Mastercard."),
]
SETTINGS = chromadb.Settings(anonymized_telemetry=False)


def shared(path: Path, embedder: Embedder) -> KnowledgeIndex:
    """The index a worker process builds over the shared store."""
    store = SharedLocalChroma(path, SETTINGS, ChromaEmbeddingFunction(embedder))
    return KnowledgeIndex(store, embedder)


@pytest.fixture
def store_path(tmp_path: Path, embedder: Embedder) -> Path:
    """A local store with three chunks, written the single-process way and closed."""
    path = tmp_path / "chroma"
    KnowledgeIndex(chromadb.PersistentClient(path=str(path), settings=SETTINGS), embedder).sync(
        CHUNKS
    )
    SharedSystemClient.clear_system_cache()
    return path


def test_the_shared_store_finds_what_the_store_holds(store_path: Path, embedder: Embedder) -> None:
    assert not snapshot_path(store_path).exists()
    index = shared(store_path, embedder)
    assert snapshot_path(store_path).exists()  # made by the first reader, from the store
    hits = index.search(embedder.embed_one("how many days to send it back"), query="send back")
    assert hits[0].id == "returns#window"
    assert index.count() == 3


def test_a_write_in_one_process_is_read_by_another(
    store_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = shared(store_path, embedder), shared(store_path, embedder)
    query = "my kettle broke"
    assert reader.search(embedder.embed_one(query), query=query, kinds=("resolution",)) == []
    snapshots = []
    monkeypatch.setattr(
        shared_store,
        "write_snapshot",
        lambda *args: snapshots.append(args) or write_snapshot(*args),
    )
    writer.add_resolution("tkt_1#resolution", "Broken kettle", "A broken kettle is replaced.")
    assert len(snapshots) == 1  # its four writes open the store once
    found = reader.search(embedder.embed_one(query), query=query, kinds=("resolution",))
    assert found == []  # its caches hold until its next revision check ...
    reader._revisions_checked_at -= REVISION_CHECK_S
    found = reader.search(embedder.embed_one(query), query=query, kinds=("resolution",))
    assert [hit.id for hit in found] == ["tkt_1#resolution"]  # ... which sees the new stamp
    # and the store itself holds it, for the next snapshot and a single process alike
    client = chromadb.PersistentClient(path=str(store_path), settings=SETTINGS)
    function = ChromaEmbeddingFunction(embedder)
    assert client.get_collection("past_resolutions", embedding_function=function).count() == 1
    SharedSystemClient.clear_system_cache()
