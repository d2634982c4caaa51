"""The help-article index in Chroma: incremental sync by content hash, and vector search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from supportgraph.knowledge.chunking import Chunk
from supportgraph.knowledge.embedder import ChromaEmbeddingFunction, Embedder

ARTICLES_COLLECTION = "help_articles"


@dataclass(frozen=True)
class KnowledgeHit:
    """A chunk found for a query, with a 0-1 relevance score (cosine similarity)."""

    id: str
    title: str
    heading: str
    text: str
    score: float


@dataclass(frozen=True)
class SyncReport:
    """What an ingest changed."""

    added: int
    updated: int
    removed: int
    unchanged: int


class KnowledgeIndex:
    """Help-article chunks in one Chroma collection, embedded with our own model."""

    def __init__(self, client: Any, embedder: Embedder, name: str = ARTICLES_COLLECTION) -> None:
        """Open (or create) the collection with cosine distance."""
        self._embedder = embedder
        self._collection = client.get_or_create_collection(
            name,
            embedding_function=ChromaEmbeddingFunction(embedder),
            configuration={"hnsw": {"space": "cosine"}},
        )

    def count(self) -> int:
        """Number of chunks indexed."""
        return int(self._collection.count())

    def sync(self, chunks: Sequence[Chunk], *, batch_size: int = 128) -> SyncReport:
        """Make the index hold exactly these chunks, re-embedding only what changed."""
        stored = self._collection.get(include=["metadatas"])
        stored_hash = {
            chunk_id: (meta or {}).get("content_hash")
            for chunk_id, meta in zip(stored["ids"], stored["metadatas"] or [], strict=False)
        }
        wanted = {chunk.id: chunk for chunk in chunks}
        removed = [chunk_id for chunk_id in stored_hash if chunk_id not in wanted]
        changed = [c for c in chunks if stored_hash.get(c.id) != c.content_hash]
        if removed:
            self._collection.delete(ids=removed)
        for start in range(0, len(changed), batch_size):
            batch = changed[start : start + batch_size]
            vectors = self._embedder.embed([chunk.embedding_text for chunk in batch])
            self._collection.upsert(
                ids=[chunk.id for chunk in batch],
                embeddings=list(vectors),
                documents=[chunk.text for chunk in batch],
                metadatas=[
                    {
                        "article_id": chunk.article_id,
                        "title": chunk.title,
                        "heading": chunk.heading,
                        "content_hash": chunk.content_hash,
                    }
                    for chunk in batch
                ],
            )
        updated = sum(1 for chunk in changed if chunk.id in stored_hash)
        return SyncReport(
            added=len(changed) - updated,
            updated=updated,
            removed=len(removed),
            unchanged=len(chunks) - len(changed),
        )

    def search(self, vector: np.ndarray, *, k: int = 5) -> list[KnowledgeHit]:
        """The k nearest chunks to a query vector, best first."""
        if self.count() == 0:
            return []
        result = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        hits: list[KnowledgeHit] = []
        for chunk_id, text, meta, distance in zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        ):
            hits.append(
                KnowledgeHit(
                    id=chunk_id,
                    title=str(meta.get("title", "")),
                    heading=str(meta.get("heading", "")),
                    text=text,
                    score=max(0.0, min(1.0, 1.0 - float(distance))),
                )
            )
        return hits
