"""A local Chroma store that several server processes on one host share.

Chroma's local persistent store is not safe to keep open in two processes: each client keeps
the vector index in its own memory and its compactor rewrites the index files. Processes
sharing one therefore never keep it open. Reads come from a snapshot of every collection
(ids, documents, metadata, vectors) written by whoever wrote last; a write opens the store
under an exclusive file lock, applies itself, writes a new snapshot and closes the store
again. The knowledge index reads each collection whole and follows revision stamps, so a
process sees another's write at its next revision check.

Only the part of a collection's interface the knowledge index uses is offered: ``get`` by
page, ``count``, ``metadata``, and the writes ``upsert``, ``delete`` and ``modify``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from supportgraph.file_locks import exclusive

SNAPSHOT_FILE = "shared-snapshot.pkl"
LOCK_FILE = "shared-writes.lock"
# A collection as read: its metadata, and its records in one order.
Snapshot = dict[str, dict[str, Any]]


def snapshot_path(chroma_path: Path) -> Path:
    """Where a store's snapshot lives: its presence means processes share the store."""
    return chroma_path / SNAPSHOT_FILE


def _read_collection(collection: Any) -> dict[str, Any]:
    from supportgraph.knowledge.index import read_all

    found = read_all(collection, ["documents", "metadatas", "embeddings"])
    embeddings = [np.asarray(vector, dtype=np.float32) for vector in found["embeddings"]]
    return {
        "metadata": dict(collection.metadata or {}),
        "ids": list(found["ids"]),
        "documents": list(found["documents"]),
        "metadatas": [dict(meta or {}) for meta in found["metadatas"]],
        "embeddings": embeddings,
    }


def write_snapshot(client: Any, path: Path, embedding_function: Any) -> None:
    """Every collection of an open store, written whole and swapped in at once.

    Collections are opened with ``embedding_function``: without one Chroma builds its
    default, which downloads a model (vectors always come with the records here).
    """
    snapshot = {
        collection.name: _read_collection(
            client.get_collection(collection.name, embedding_function=embedding_function)
        )
        for collection in client.list_collections()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as out:
        pickle.dump(snapshot, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, path)


class SharedLocalChroma:
    """A Chroma client's collections over a local store shared with other processes."""

    def __init__(self, path: Path, settings: Any, embedding_function: Any) -> None:
        """Share the store at ``path``, opened with chromadb ``settings`` to write."""
        self.path = path
        self._settings = settings
        self._embedding_function = embedding_function
        self._snapshot: Snapshot = {}
        self._stamp: tuple[int, int, int] | None = None
        self._guard = threading.Lock()
        self._writing = threading.Lock()
        self._open: Any = None  # the store, while a batch of writes holds it
        self._writer: int | None = None  # the thread whose batch that is

    def snapshot(self) -> Snapshot:
        """The latest snapshot, read again when another process has written a new one."""
        file = snapshot_path(self.path)
        stat = file.stat()
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._guard:
            if stamp != self._stamp:
                self._snapshot = pickle.loads(file.read_bytes())  # only ever written here
                self._stamp = stamp
            return self._snapshot

    def get_or_create_collection(self, name: str, **options: Any) -> SharedCollection:
        """A collection, created in the store when the snapshot lacks it."""
        if not snapshot_path(self.path).exists() or name not in self.snapshot():
            self.write(lambda client: client.get_or_create_collection(name, **options))
        return SharedCollection(self, name, options)

    def get_collection(self, name: str) -> SharedCollection:
        """A collection the store already holds."""
        if name not in self.snapshot():
            raise ValueError(f"no collection {name}")
        return SharedCollection(self, name, {})

    def refresh(self) -> None:
        """Write the snapshot from the store as it is (at start, before workers read it)."""
        with self.batch():
            pass

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Open the store alone for a run of writes; the snapshot is written once, at the end.

        A learned resolution is four writes (its chunk, its pieces' removal and upsert, the
        revision stamp): one opening instead of four.
        """
        if self._writer == threading.get_ident():  # inside a batch of this thread's already
            yield
            return
        import chromadb
        from chromadb.api.client import SharedSystemClient

        with self._writing, exclusive(self.path / LOCK_FILE):
            self._open = chromadb.PersistentClient(path=str(self.path), settings=self._settings)
            self._writer = threading.get_ident()
            try:
                yield
            finally:
                try:
                    write_snapshot(self._open, snapshot_path(self.path), self._embedding_function)
                finally:
                    self._open = self._writer = None
                    # The store's system stays cached per process; closed, nothing holds it open.
                    SharedSystemClient.clear_system_cache()

    def write(self, apply: Callable[[Any], object]) -> None:
        """Apply a change to the store, opened alone (see :meth:`batch`)."""
        with self.batch():
            apply(self._open)


class SharedCollection:
    """One collection of a :class:`SharedLocalChroma`."""

    def __init__(self, store: SharedLocalChroma, name: str, options: dict[str, Any]) -> None:
        """A view of ``name``; ``options`` create it again if another process deleted it."""
        self._store = store
        self.name = name
        self._options = options

    def _records(self) -> dict[str, Any]:
        return self._store.snapshot()[self.name]

    @property
    def metadata(self) -> dict[str, Any]:
        """The collection's metadata (the knowledge index keeps its revision there)."""
        return dict(self._records()["metadata"])

    def count(self) -> int:
        """How many records it holds."""
        return len(self._records()["ids"])

    def get(
        self, include: list[str], limit: int | None = None, offset: int = 0
    ) -> dict[str, list[Any]]:
        """A page of records: ids and the fields in ``include``."""
        records = self._records()
        end = len(records["ids"]) if limit is None else offset + limit
        page: dict[str, list[Any]] = {"ids": records["ids"][offset:end]}
        for field in include:
            page[field] = records[field][offset:end]
        return page

    def _write(self, method: str, **arguments: Any) -> None:
        def apply(client: Any) -> None:
            collection = client.get_or_create_collection(self.name, **self._options)
            getattr(collection, method)(**arguments)

        self._store.write(apply)

    def upsert(self, **arguments: Any) -> None:
        """Add or replace records."""
        self._write("upsert", **arguments)

    def delete(self, **arguments: Any) -> None:
        """Remove records by id or by a metadata filter."""
        self._write("delete", **arguments)

    def modify(self, **arguments: Any) -> None:
        """Change the collection's metadata."""
        self._write("modify", **arguments)
