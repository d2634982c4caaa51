"""Typo repair for what the models read: "chraged" → "charged", "retrun" → "return".

Only words that are neither English (a whole word in the embedding model's vocabulary) nor
part of the store's own vocabulary are touched, and only with a one-edit fix the store's
vocabulary knows. The customer's own text is stored unchanged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_WORD = re.compile(r"[A-Za-z]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
MIN_LENGTH = 4
# Contractions typed without the apostrophe. They are not typos of a nearby word: one edit
# turns "dont" into "don" and "theres" into "there", which loses the negation or the verb.
# Words that are also plain words ("its", "ill", "well", "id") are left out.
_WITH_APOSTROPHES = (
    "don't",
    "doesn't",
    "didn't",
    "can't",
    "won't",
    "isn't",
    "aren't",
    "wasn't",
    "weren't",
    "hasn't",
    "haven't",
    "hadn't",
    "couldn't",
    "shouldn't",
    "wouldn't",
    "i'm",
    "i've",
    "you're",
    "you've",
    "they're",
    "they've",
    "we've",
    "that's",
    "what's",
    "where's",
    "there's",
    "here's",
    "how's",
    "who's",
)
CONTRACTIONS = {word.replace("'", ""): word for word in _WITH_APOSTROPHES}
# Shorthand customers type that help centres spell out ("do you take Amex?" found nothing:
# the payment article says American Express). Only letters-only words: "ORD" of an order id
# is matched as a word too, so it must never be here.
SHORTHANDS = {
    "amex": "American Express",
    "pw": "password",
    "pwd": "password",
    "acct": "account",
    "addr": "address",
    "pkg": "package",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ur": "your",
    "u": "you",
}


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _LETTERS]
    inserts = [a + c + b for a, b in splits for c in _LETTERS]
    return set(deletes + transposes + replaces + inserts)


class Speller:
    """Corrects one-edit typos towards a domain vocabulary."""

    def __init__(self, domain_texts: Iterable[str], english: Iterable[str]) -> None:
        """Count the domain's words; remember which words are plain English."""
        self.counts = Counter(w.lower() for text in domain_texts for w in _WORD.findall(text))
        self.english = {word.lower() for word in english}

    @classmethod
    def from_files(cls, domain_texts: Iterable[str], vocab_file: Path) -> Speller:
        """Build from domain texts and a WordPiece ``vocab.txt`` (whole words only)."""
        words = [
            line.strip()
            for line in vocab_file.read_text(encoding="utf-8").splitlines()
            if line.strip().isalpha()
        ]
        return cls(domain_texts, words)

    def correct_word(self, word: str) -> str:
        """The word, or its most frequent one-edit neighbour in the domain vocabulary."""
        lower = word.lower()
        if lower in CONTRACTIONS:
            restored = CONTRACTIONS[lower]
            return restored.capitalize() if word[0].isupper() else restored
        if lower in SHORTHANDS and not (len(word) == 1 and word.isupper()):  # the U of "U.S."
            return SHORTHANDS[lower]
        if len(lower) < MIN_LENGTH or lower in self.counts or lower in self.english:
            return word
        candidates = [c for c in _edits1(lower) if c in self.counts]
        if not candidates:
            return word
        best = max(candidates, key=lambda c: (self.counts[c], c))
        return best.capitalize() if word[0].isupper() else best

    def correct(self, text: str) -> str:
        """The text with its typos repaired."""
        return _WORD.sub(lambda match: self.correct_word(match.group(0)), text)
