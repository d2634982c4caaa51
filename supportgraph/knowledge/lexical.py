"""The lexical half of hybrid retrieval: BM25 (bm25s) over stemmed tokens."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

_STEMMER = Stemmer.Stemmer("english")


def _tokenize(texts: Sequence[str]) -> bm25s.tokenization.Tokenized:
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_STEMMER, show_progress=False, allow_empty=True
    )


class LexicalIndex:
    """BM25 over a fixed list of documents; rebuild it when the documents change."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Index the documents (ids and texts in the same order)."""
        self.ids = list(ids)
        self._retriever: bm25s.BM25 | None = None
        if self.ids:
            self._retriever = bm25s.BM25()
            self._retriever.index(_tokenize(texts), show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The k best (id, BM25 score) pairs with a positive score, best first."""
        if self._retriever is None or not query.strip():
            return []
        tokens = _tokenize([query])
        if not any(tokens.ids):
            return []
        k = min(k, len(self.ids))
        docs, scores = self._retriever.retrieve(tokens, k=k, show_progress=False)
        return [
            (self.ids[int(doc)], float(score))
            for doc, score in zip(np.asarray(docs)[0], np.asarray(scores)[0], strict=True)
            if score > 0
        ]
