"""Extractive answers: the sentences of the best chunk that answer a question, with its id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from supportgraph.knowledge.embedder import Embedder
from supportgraph.knowledge.extract import best_sentences

MIN_RELEVANCE = 0.35  # below this fused score nothing retrieved is trusted to answer


@dataclass(frozen=True)
class ExtractiveAnswer:
    """Sentences copied from one chunk, and where they came from."""

    sentences: list[str]
    source_id: str
    title: str
    evidence: str

    @property
    def text(self) -> str:
        """The sentences as one paragraph."""
        return " ".join(self.sentences)


def extractive_answer(
    question: str,
    candidates: Sequence[tuple[str, str, str, float]],
    *,
    min_relevance: float = MIN_RELEVANCE,
    limit: int = 2,
    embedder: Embedder | None = None,
) -> ExtractiveAnswer | None:
    """Answer from the best (id, title, text, score) candidate, or None when none is relevant.

    With an ``embedder`` sentences are chosen by meaning as well as by shared words.
    """
    if not candidates or candidates[0][3] < min_relevance:
        return None
    source_id, title, text, _ = candidates[0]

    def closeness(sentences: list[str]) -> list[float]:
        assert embedder is not None
        vectors = embedder.embed([question, *sentences])
        return [float(score) for score in vectors[1:] @ vectors[0]]

    sentences = best_sentences(
        question, text, limit=limit, closeness=closeness if embedder else None
    )
    if not sentences:
        return None
    return ExtractiveAnswer(sentences, source_id, title, text)
