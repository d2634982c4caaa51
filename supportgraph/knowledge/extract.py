"""Extractive answers: the sentences of a chunk that best answer a question."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from supportgraph.knowledge.grounding import DURATION

# One shared content word counts as much as 0.1 of cosine similarity. Ranking the sentences of
# the best chunk by meaning as well as by shared words raised the answers holding every gold
# fact of the knowledge suite from 53 to 60 of 120.
SEMANTIC_WEIGHT = 10.0
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$])")
_WORD = re.compile(r"[a-z0-9$]+(?:[-'][a-z0-9]+)*")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "do",
        "does",
        "did",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "can",
        "could",
        "would",
        "should",
        "will",
        "how",
        "what",
        "when",
        "where",
        "why",
        "who",
        "which",
        "there",
        "their",
        "them",
        "they",
        "he",
        "she",
        "his",
        "her",
        "as",
        "so",
        "not",
        "no",
        "yes",
        "please",
        "hi",
        "hello",
        "thanks",
        "thank",
        "get",
        "got",
        "have",
        "has",
        "had",
        "just",
        "about",
        "any",
        "some",
    ]
)


def words(text: str) -> set[str]:
    """Content words of a text, lower-cased."""
    return {word for word in _WORD.findall(text.lower()) if word not in STOPWORDS}


LIST_ITEM_MAX_WORDS = 4


def split_sentences(text: str) -> list[str]:
    """Sentences of a chunk, list items kept whole.

    A run of short list items ("- Visa", "- American Express") is one sentence with the line
    that introduces it: "accepts these payment methods: Visa, Mastercard, American Express, ...".
    Item by item, "do you take Amex?" was answered "Mastercard American Express".
    """
    pieces: list[str] = []
    items: list[str] = []

    def close_list() -> None:
        if not items:
            return
        listed = ", ".join(items) + "."
        if pieces and pieces[-1].endswith(":"):
            pieces[-1] = f"{pieces[-1]} {listed}"
        else:
            pieces.append(listed)
        items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        content = line.lstrip("-*").strip()
        if content != line and _is_short_item(content):
            items.append(content)
            continue
        close_list()
        if content:
            pieces.extend(part.strip() for part in _SENTENCE.split(content) if part.strip())
    close_list()
    return pieces


def _is_short_item(content: str) -> bool:
    return 0 < len(content.split()) <= LIST_ITEM_MAX_WORDS and not content.endswith((".", "!", "?"))


# A question of time ("how fast do I get it?") is answered by a sentence that states one
# ("... added to your account instantly, while a refund takes 5-10 business days"); such a
# sentence counts as two more shared words.
ASKS_TIME = re.compile(
    r"\bhow (?:long|fast|soon|quickly|many (?:days|weeks|hours))\b"
    r"|\bwhen (?:will|does|do|is|can)\b",
    re.IGNORECASE,
)
_AT_ONCE = re.compile(r"\b(?:instantly|immediately|right away|same day|next day)\b", re.I)
TIME_BONUS = 2.0
# A figure the customer states ("I've got 300 points") found in a sentence ("300 points give
# you $15.00 off") is the most specific match there is: it counts as three shared words.
FIGURE_WEIGHT = 3.0
_FIGURE = re.compile(r"^\$?[1-9]")


def best_sentences(
    question: str,
    text: str,
    *,
    limit: int = 2,
    closeness: Callable[[list[str]], Sequence[float]] | None = None,
) -> list[str]:
    """Up to ``limit`` sentences that best answer the question, in text order.

    A sentence scores by its meaning's ``closeness`` to the question (cosine, when given) and
    by the content words it shares with it. The first sentence of a section wins ties: help
    articles lead with the answer.
    """
    sentences = split_sentences(text)
    if not sentences:
        return []
    asked = words(question)
    meaning = closeness(sentences) if closeness else [0.0] * len(sentences)
    asks_time = bool(ASKS_TIME.search(question))
    scored = [
        (
            SEMANTIC_WEIGHT * meaning[index]
            + _shared_weight(asked & words(sentence))
            + (0.5 if index == 0 else 0.0)
            + (TIME_BONUS if asks_time and _states_time(sentence) else 0.0),
            index,
        )
        for index, sentence in enumerate(sentences)
    ]
    chosen = sorted(index for _, index in sorted(scored, reverse=True)[:limit])
    return [sentences[index] for index in chosen]


def _states_time(sentence: str) -> bool:
    """Whether a sentence says how long something takes or when it happens."""
    return bool(DURATION.search(sentence) or _AT_ONCE.search(sentence))


def _shared_weight(shared: set[str]) -> float:
    return sum(FIGURE_WEIGHT if _FIGURE.match(word) else 1.0 for word in shared)
