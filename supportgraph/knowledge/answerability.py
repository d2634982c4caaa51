"""Whether the best retrieved passage answers the question asked, not merely shares its topic.

"Do you have student discounts?" retrieves the promo-code article with a good score; it
shares the topic but never says "student". The decision is a logistic model over a few
features of the question and the best passage, fitted on labelled answerable and
unanswerable questions (``supportgraph kb calibrate-answerability``), with the threshold
chosen for a stated abstention rate on the unanswerable ones. Nothing here is hand-set.

The rarity of a word (its IDF over the help centre's sections) is stored with the model:
a question word the help centre never uses is the strongest sign it cannot answer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import Stemmer

from supportgraph.knowledge.extract import STOPWORDS, split_sentences

MODEL_FILE = Path(__file__).with_name("answerability.json")
FEATURES = (
    "score",
    "margin",
    "meaning",
    "covered",
    "covered_by_rarity",
    "rarest_missing",
    "unmatched_meaning",
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STEMMER = Stemmer.Stemmer("english")
# Words of asking, not of the subject: "how do I ...", "is there any way to ...".
QUESTION_WORDS = frozenset(
    [
        "how", "what", "when", "where", "which", "who", "why", "whom", "whose", "there", "any",
        "way", "get", "got", "please", "thanks", "thank", "hi", "hello", "hey", "need", "want",
        "know", "tell", "much", "many", "long", "also", "just", "able", "still", "ever",
        "anything", "something", "someone", "anyone",
    ]
)  # fmt: skip

Candidate = tuple[str, str, str, float]  # id, title, text, score
Embed = Callable[[list[str]], np.ndarray]  # normalized vectors, one row per text
_WORD_VECTORS: dict[str, np.ndarray] = {}
WORD_CACHE_LIMIT = 50_000


def subject_words(text: str) -> list[str]:
    """The subject words of a text, in order, without stop and question words."""
    return [
        w
        for w in _WORD.findall(text.lower())
        if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1
    ]


def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def stems(text: str) -> list[str]:
    """The subject words of a text, stemmed."""
    return [_stem(word) for word in subject_words(text)]


def word_vectors(embed: Embed, words: list[str]) -> np.ndarray:
    """Vectors of single words, each embedded once per process (the help centre's words recur)."""
    new = [word for word in dict.fromkeys(words) if word not in _WORD_VECTORS]
    if new:
        if len(_WORD_VECTORS) + len(new) > WORD_CACHE_LIMIT:
            _WORD_VECTORS.clear()
        _WORD_VECTORS.update(zip(new, embed(new), strict=True))
    return np.stack([_WORD_VECTORS[word] for word in words])


def document_frequencies(texts: Iterable[str]) -> tuple[dict[str, float], float]:
    """IDF of each stem over the texts, and the IDF of a stem none of them uses."""
    documents = [set(stems(text)) for text in texts]
    count = len(documents)
    seen: dict[str, int] = {}
    for document in documents:
        for stem in document:
            seen[stem] = seen.get(stem, 0) + 1
    idf = {stem: math.log((1 + count) / (1 + n)) + 1 for stem, n in seen.items()}
    return idf, math.log(1 + count) + 1


@dataclass(frozen=True)
class Answerability:
    """The fitted model: weights over standardized features, a threshold, the word rarities."""

    weights: dict[str, float]
    bias: float
    means: dict[str, float]
    scales: dict[str, float]
    threshold: float
    idf: dict[str, float] = field(repr=False)
    unseen_idf: float
    fitted_on: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def untrained(cls, texts: Iterable[str]) -> Answerability:
        """Zero weights over the word rarities of ``texts``: what features are computed with."""
        idf, unseen = document_frequencies(texts)
        return cls(
            weights=dict.fromkeys(FEATURES, 0.0),
            bias=0.0,
            means=dict.fromkeys(FEATURES, 0.0),
            scales=dict.fromkeys(FEATURES, 1.0),
            threshold=0.5,
            idf=idf,
            unseen_idf=unseen,
        )

    def features(
        self, question: str, candidates: Sequence[Candidate], embed: Embed | None
    ) -> dict[str, float]:
        """What the model reads of the question and the best candidate.

        ``embed`` (normalized vectors of texts) gives the closeness of meaning of the best
        sentence, and of each question word the passage lacks to the passage's own words:
        "money back" is close to "refund", "student" to nothing in a promo-code article.
        """
        _, title, text, score = candidates[0]
        runner_up = candidates[1][3] if len(candidates) > 1 else 0.0
        words = list(dict.fromkeys(subject_words(question)))
        passage_words = set(subject_words(f"{title} {text}"))
        passage = {_stem(word) for word in passage_words}
        rarity = {word: self.idf.get(_stem(word), self.unseen_idf) for word in words}
        missing = [word for word in words if _stem(word) not in passage]
        total = sum(rarity.values())
        meaning, unmatched = 0.0, 0.0
        if embed is not None:
            sentences = split_sentences(text)[:12]
            if sentences:
                vectors = embed([question, *sentences])
                meaning = float(np.max(vectors[1:] @ vectors[0]))
            if missing and passage_words:
                asked = word_vectors(embed, missing)
                present = word_vectors(embed, sorted(passage_words))
                nearest = (asked @ present.T).max(axis=1)
                weights = np.array([rarity[word] for word in missing])
                unmatched = float(np.sum(weights * (1 - nearest)) / total) if total else 0.0
        return {
            "score": score,
            "margin": score - runner_up,
            "meaning": meaning,
            "covered": 1 - len(missing) / len(words) if words else 1.0,
            "covered_by_rarity": 1 - sum(rarity[w] for w in missing) / total if total else 1.0,
            "rarest_missing": max((rarity[w] for w in missing), default=0.0) / self.unseen_idf,
            "unmatched_meaning": unmatched,
        }

    def probability(self, features: dict[str, float]) -> float:
        """How likely the passage answers the question (0-1)."""
        z = self.bias + sum(
            self.weights[name] * (features[name] - self.means[name]) / self.scales[name]
            for name in FEATURES
        )
        return 1 / (1 + math.exp(-z))

    def answers(
        self, question: str, candidates: Sequence[Candidate], embed: Embed | None = None
    ) -> bool:
        """Whether the best candidate answers the question at the fitted operating point."""
        if not candidates:
            return False
        return self.probability(self.features(question, candidates, embed)) >= self.threshold

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "features": list(FEATURES),
            "weights": self.weights,
            "bias": self.bias,
            "means": self.means,
            "scales": self.scales,
            "threshold": self.threshold,
            "unseen_idf": self.unseen_idf,
            "fitted_on": self.fitted_on,
            "idf": dict(sorted(self.idf.items())),
        }


def load_answerability(path: Path = MODEL_FILE) -> Answerability | None:
    """The fitted model, or None when none was fitted (the relevance floor decides alone)."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("features") != list(FEATURES):
        raise ValueError(f"{path} was fitted on other features; fit it again")
    return Answerability(
        weights=data["weights"],
        bias=data["bias"],
        means=data["means"],
        scales=data["scales"],
        threshold=data["threshold"],
        idf=data["idf"],
        unseen_idf=data["unseen_idf"],
        fitted_on=data.get("fitted_on", {}),
    )
