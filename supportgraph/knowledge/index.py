"""The knowledge index: help-article chunks and past resolutions in Chroma, searched hybrid.

Dense (the turn's embedding, cosine) and lexical (BM25) candidates are fused into one 0-1
relevance score. Ingestion is incremental by content hash.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from supportgraph.knowledge.chunking import Chunk
from supportgraph.knowledge.embedder import ChromaEmbeddingFunction, Embedder
from supportgraph.knowledge.extract import split_sentences
from supportgraph.knowledge.lexical import LexicalIndex

COLLECTIONS = {"article": "help_articles", "resolution": "past_resolutions"}
UNITS_SUFFIX = "_units"  # heading and sentence vectors of each chunk
DENSE_WEIGHT = 0.9
BM25_HALF = 12.0  # a BM25 score that counts as half-relevant lexically
CANDIDATES = 20
# A message that describes a situation ("tried too many times and now it won't let me log in
# at all") is ranked by its best piece's cosine mixed 70/30 with the whole section's: the
# best piece alone let one sentence or heading sharing its words outrank the section that
# answers it. On the knowledge questions chunk recall@1 rose from 0.525 to 0.575 and answers
# holding every gold fact from 0.51 to 0.567. A short question ("what's your return
# window?", "how long does shipping take?") is a heading in other words and keeps the best
# piece alone: mixed, 3 of 20 common ones went to a worse section. Relevance (the score
# thresholds read) stays the best cosine: mixing lowered scores and answers were withheld.
WHOLE_CHUNK_RANK_WEIGHT = 0.3
SHORT_QUESTION_WORDS = 8
UNIT_CANDIDATES = 60
# Every write stamps a new revision on the collection's metadata. Servers sharing a Chroma
# server read the stamps at most this often (a metadata read, 0.4 ms locally) and drop the
# caches of a collection another process wrote to.
REVISION_CHECK_S = 5.0
# Records read from Chroma per request: reading a whole large collection at once fails in its
# SQLite layer ("too many SQL variables", seen at 10,000 chunks with their sentences).
READ_PAGE = 5_000
# A stored chunk: its text, its metadata (title, heading, ...) and its unit-length vector.
StoredChunk = tuple[str, dict[str, Any], np.ndarray]


@dataclass(frozen=True)
class DenseMatrix:
    """Unit vectors held in memory, each row belonging to a chunk (several rows may)."""

    owners: list[str]
    vectors: np.ndarray

    @classmethod
    def of(cls, owners: list[str], embeddings: Sequence[Any]) -> DenseMatrix:
        """Rows normalized to unit length (cosine is then a dot product)."""
        if not owners:
            return cls([], np.zeros((0, 1), dtype=np.float32))
        vectors = np.asarray(embeddings, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return cls(owners, vectors / np.where(norms == 0, 1.0, norms))

    def best(self, query: np.ndarray, k: int) -> dict[str, float]:
        """The best cosine per owner among the ``k`` closest rows."""
        if not self.owners:
            return {}
        scores = self.vectors @ query
        top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else range(len(scores))
        best: dict[str, float] = {}
        for row in top:
            owner = self.owners[int(row)]
            best[owner] = max(best.get(owner, 0.0), float(scores[row]))
        return best


def chunk_units(chunk: Chunk) -> list[str]:
    """The pieces of a chunk embedded on their own: its heading and each sentence.

    A customer's question often matches one sentence, or the heading, better than the whole
    chunk; a chunk scores the best cosine of its pieces and of itself.
    """
    units = [f"{chunk.title}. {chunk.heading}" if chunk.heading != "overview" else chunk.title]
    prefix = f"{chunk.heading}: " if chunk.heading != "overview" else ""
    units += [prefix + sentence for sentence in split_sentences(chunk.text)]
    return units


@dataclass(frozen=True)
class KnowledgeHit:
    """A chunk found for a query, with its fused 0-1 relevance and both components."""

    id: str
    title: str
    heading: str
    text: str
    score: float
    kind: str = "article"
    dense: float = 0.0
    lexical: float = 0.0
    rank: float = 0.0  # what orders hits: see WHOLE_CHUNK_RANK_WEIGHT


@dataclass(frozen=True)
class SyncReport:
    """What an ingest changed."""

    added: int
    updated: int
    removed: int
    unchanged: int


def fused_score(dense: float, bm25: float) -> float:
    """Convex mix of cosine similarity and a saturating transform of the BM25 score."""
    lexical = bm25 / (bm25 + BM25_HALF) if bm25 > 0 else 0.0
    return max(0.0, min(1.0, DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical))


def diversify(ranked: Sequence[KnowledgeHit], k: int) -> list[KnowledgeHit]:
    """The k best hits, one per article first, the best hit staying first.

    Three sections of one page tell less than three pages.
    """
    firsts: list[KnowledgeHit] = []
    rest: list[KnowledgeHit] = []
    seen: set[str] = set()
    for hit in ranked:
        article = hit.id.split("#", 1)[0]
        (rest if article in seen else firsts).append(hit)
        seen.add(article)
    return (firsts + rest)[:k]


class KnowledgeIndex:
    """Help articles and past resolutions, embedded with our own model."""

    def __init__(self, client: Any, embedder: Embedder) -> None:
        """Open (or create) the collections with cosine distance."""
        self._client = client
        self._embedder = embedder

        def collection(name: str) -> Any:
            return client.get_or_create_collection(
                name,
                embedding_function=ChromaEmbeddingFunction(embedder),
                configuration={"hnsw": {"space": "cosine"}},
            )

        self._collections = {kind: collection(name) for kind, name in COLLECTIONS.items()}
        self._units = {kind: collection(name + UNITS_SUFFIX) for kind, name in COLLECTIONS.items()}
        self._lexical: dict[str, LexicalIndex] = {}
        self._chunks: dict[str, dict[str, StoredChunk]] = {}
        self._dense: dict[str, tuple[DenseMatrix, DenseMatrix]] = {}
        self._counts: dict[str, int] = {}
        self._revisions: dict[str, str | None] = {}
        self._revisions_checked_at = float("-inf")
        self._revision_guard = threading.Lock()

    def count(self, kind: str = "article") -> int:
        """Number of chunks of a kind (cached: counting costs milliseconds in Chroma)."""
        if kind not in self._counts:
            self._counts[kind] = int(self._collections[kind].count())
            self._counts[f"{kind}{UNITS_SUFFIX}"] = int(self._units[kind].count())
        return self._counts[kind]

    def warm_up(self) -> None:
        """Read what searches keep in memory (counts, chunks, vectors, lexical indexes) now."""
        self._check_revisions()
        for kind in COLLECTIONS:
            if self.count(kind):
                self._lexical_index(kind)
                self._dense_matrices(kind)

    def _writes(self) -> AbstractContextManager[object]:
        """A run of writes as one, where the client can (a shared store then opens once)."""
        batch = getattr(self._client, "batch", None)
        return batch() if batch is not None else nullcontext()

    def _changed(self, kind: str) -> None:
        """Forget what was cached about a collection: it was written to."""
        self._lexical.pop(kind, None)
        self._chunks.pop(kind, None)
        self._dense.pop(kind, None)
        self._counts.pop(kind, None)

    def _wrote(self, kind: str) -> None:
        """Stamp a new revision after writing, so that other processes drop their caches."""
        revision = uuid.uuid4().hex
        self._collections[kind].modify(metadata={"revision": revision})
        self._revisions[kind] = revision
        self._changed(kind)

    def _check_revisions(self) -> None:
        """Drop the caches of collections another process wrote to since the last check."""
        if time.monotonic() - self._revisions_checked_at < REVISION_CHECK_S:
            return
        with self._revision_guard:  # threads that were due together check once
            now = time.monotonic()
            if now - self._revisions_checked_at < REVISION_CHECK_S:
                return
            self._revisions_checked_at = now
            for kind, name in COLLECTIONS.items():
                metadata = self._client.get_collection(name).metadata or {}
                revision = metadata.get("revision")
                if kind not in self._revisions or revision != self._revisions[kind]:
                    self._changed(kind)
                self._revisions[kind] = revision

    def sync(
        self, chunks: Sequence[Chunk], progress: Callable[[int], None] | None = None
    ) -> SyncReport:
        """Make the article collection hold exactly these chunks, re-embedding what changed."""
        return self._sync("article", chunks, lambda meta: True, progress)

    def ingest(
        self,
        chunks: Sequence[Chunk],
        *,
        scope: Callable[[dict[str, Any]], bool],
        progress: Callable[[int], None] | None = None,
    ) -> SyncReport:
        """Upsert these chunks; stored chunks inside ``scope`` that are not among them go."""
        return self._sync("article", chunks, scope, progress)

    def add_resolution(self, resolution_id: str, title: str, text: str) -> None:
        """Index how a person resolved a ticket (its text already free of personal data)."""
        chunk = Chunk(resolution_id, resolution_id.split("#")[0], title, "resolution", text)
        with self._writes():
            self._upsert("resolution", [chunk])
            self._wrote("resolution")

    def search(
        self,
        vector: np.ndarray,
        *,
        query: str = "",
        k: int = 5,
        kinds: Iterable[str] = ("article",),
    ) -> list[KnowledgeHit]:
        """The k most relevant chunks, best first, from dense and lexical candidates."""
        self._check_revisions()
        hits: list[KnowledgeHit] = []
        for kind in kinds:
            if self.count(kind):
                hits.extend(self._search_kind(kind, np.asarray(vector, dtype=np.float32), query))
        ranked = sorted(hits, key=lambda hit: hit.rank, reverse=True)
        return diversify(ranked, k)

    def _search_kind(self, kind: str, vector: np.ndarray, query: str) -> list[KnowledgeHit]:
        cosine = self._dense_candidates(kind, vector)
        bm25 = dict(self._lexical_index(kind).search(query, CANDIDATES)) if query else {}
        ids = list(dict.fromkeys([*cosine, *bm25]))
        whole_weight = WHOLE_CHUNK_RANK_WEIGHT if len(query.split()) > SHORT_QUESTION_WORDS else 0.0
        stored = self._stored(kind)
        hits = []
        for chunk_id in ids:
            if (chunk := stored.get(chunk_id)) is None:
                continue  # written by another process since this one read the collection
            text, meta, embedding = chunk
            whole = float(np.dot(embedding, vector))
            similarity = max(cosine.get(chunk_id, 0.0), whole)
            lexical = bm25.get(chunk_id, 0.0)
            ranked_by = (1 - whole_weight) * similarity + whole_weight * whole
            hits.append(
                KnowledgeHit(
                    id=chunk_id,
                    title=str(meta.get("title", "")),
                    heading=str(meta.get("heading", "")),
                    text=text,
                    score=round(fused_score(similarity, lexical), 4),
                    kind=kind,
                    dense=round(similarity, 4),
                    lexical=round(lexical, 4),
                    rank=round(fused_score(ranked_by, lexical), 4),
                )
            )
        return hits

    def _dense_candidates(self, kind: str, vector: np.ndarray) -> dict[str, float]:
        """Best cosine per chunk over the chunk itself and its pieces (heading, sentences).

        Exact, over the vectors held in memory: Chroma's query cost 13.7% of a loaded
        server's samples for two searches over a few thousand vectors, which a matrix product
        does in well under a millisecond.
        """
        whole, units = self._dense_matrices(kind)
        query = vector / (float(np.linalg.norm(vector)) or 1.0)
        best = whole.best(query, CANDIDATES)
        for chunk_id, score in units.best(query, UNIT_CANDIDATES).items():
            best[chunk_id] = max(best.get(chunk_id, 0.0), score)
        return best

    def _dense_matrices(self, kind: str) -> tuple[DenseMatrix, DenseMatrix]:
        """The chunks' and their pieces' vectors, kept until the collection changes."""
        if kind not in self._dense:
            stored = self._stored(kind)
            whole = DenseMatrix.of(list(stored), [embedding for _, _, embedding in stored.values()])
            pieces = DenseMatrix.of([], [])
            if self._units[kind].count():
                found = read_all(self._units[kind], ["embeddings", "metadatas"])
                owners = [str((meta or {})["chunk_id"]) for meta in found["metadatas"]]
                pieces = DenseMatrix.of(owners, list(found["embeddings"]))
            self._dense[kind] = (whole, pieces)
        return self._dense[kind]

    def _lexical_index(self, kind: str) -> LexicalIndex:
        if kind not in self._lexical:
            stored = self._stored(kind)
            texts = [
                f"{meta.get('title', '')}. {meta.get('heading', '')}. {text}"
                for text, meta, _ in stored.values()
            ]
            self._lexical[kind] = LexicalIndex(list(stored), texts)
        return self._lexical[kind]

    def all_texts(self, kind: str = "article") -> list[str]:
        """Every chunk of a kind as title, heading and text (what a search can match)."""
        return [
            f"{meta.get('title', '')} {meta.get('heading', '')} {text}"
            for text, meta, _ in self._stored(kind).values()
        ]

    def _stored(self, kind: str) -> dict[str, StoredChunk]:
        """Every chunk of a kind by id, read from Chroma once and kept until this index writes.

        Fetching the candidates from Chroma cost 5.5 ms a search; the lexical index holds
        every text in memory anyway, and the vectors add 1.5 KB a chunk.
        """
        if kind not in self._chunks:
            found = read_all(self._collections[kind], ["documents", "metadatas", "embeddings"])
            self._chunks[kind] = {
                chunk_id: (text, meta or {}, np.asarray(embedding, dtype=np.float32))
                for chunk_id, text, meta, embedding in zip(
                    found["ids"],
                    found["documents"],
                    found["metadatas"],
                    found["embeddings"],
                    strict=True,
                )
            }
        return self._chunks[kind]

    def _sync(
        self,
        kind: str,
        chunks: Sequence[Chunk],
        scope: Callable[[dict[str, Any]], bool],
        progress: Callable[[int], None] | None,
    ) -> SyncReport:
        collection = self._collections[kind]
        stored = read_all(collection, ["metadatas"])
        stored_hash = {
            chunk_id: (meta or {}).get("content_hash")
            for chunk_id, meta in zip(stored["ids"], stored["metadatas"] or [], strict=False)
            if scope(meta or {})
        }
        wanted = {chunk.id for chunk in chunks}
        removed = [chunk_id for chunk_id in stored_hash if chunk_id not in wanted]
        changed = [c for c in chunks if stored_hash.get(c.id) != c.content_hash]
        if removed or changed:
            with self._writes():
                if removed:
                    collection.delete(ids=removed)
                    self._units[kind].delete(where={"chunk_id": {"$in": removed}})
                self._upsert(kind, changed, progress)
                self._wrote(kind)
        updated = sum(1 for chunk in changed if chunk.id in stored_hash)
        return SyncReport(
            added=len(changed) - updated,
            updated=updated,
            removed=len(removed),
            unchanged=len(chunks) - len(changed),
        )

    def _upsert(
        self,
        kind: str,
        chunks: Sequence[Chunk],
        progress: Callable[[int], None] | None = None,
        batch_size: int = 128,
    ) -> None:
        for start in range(0, len(chunks), batch_size):
            batch = chunks[start : start + batch_size]
            vectors = self._embedder.embed([chunk.embedding_text for chunk in batch])
            self._collections[kind].upsert(
                ids=[chunk.id for chunk in batch],
                embeddings=list(vectors),
                documents=[chunk.text for chunk in batch],
                metadatas=[
                    {
                        "article_id": chunk.article_id,
                        "title": chunk.title,
                        "heading": chunk.heading,
                        "source": chunk.source,
                        "content_hash": chunk.content_hash,
                    }
                    for chunk in batch
                ],
            )
            self._upsert_units(kind, batch)
            if progress:
                progress(len(batch))

    def _upsert_units(self, kind: str, chunks: Sequence[Chunk]) -> None:
        units = self._units[kind]
        units.delete(where={"chunk_id": {"$in": [chunk.id for chunk in chunks]}})
        ids, texts, owners = [], [], []
        for chunk in chunks:
            for index, text in enumerate(chunk_units(chunk)):
                ids.append(f"{chunk.id}::{index}")
                texts.append(text)
                owners.append({"chunk_id": chunk.id})
        if ids:
            units.upsert(ids=ids, embeddings=list(self._embedder.embed(texts)), metadatas=owners)


def read_all(collection: Any, include: list[str], page: int = 0) -> dict[str, list[Any]]:
    """Every record of a Chroma collection, read a page at a time: ids and ``include``'s fields.

    ``page`` records a request (0: ``READ_PAGE``).
    """
    page = page or READ_PAGE
    found: dict[str, list[Any]] = {"ids": [], **{name: [] for name in include}}
    while True:
        batch = collection.get(include=include, limit=page, offset=len(found["ids"]))
        for name in found:
            found[name].extend(batch[name])
        if len(batch["ids"]) < page:
            return found
