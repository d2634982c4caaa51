"""Clauses of a message: where one request ends and the next begins."""

from __future__ import annotations

import re

from supportgraph.knowledge.extract import words

# A new request starts after a sentence end, a dash, "and/also/plus" before a request word,
# or a comma before a question ("..., when is it shipping"). A sentence that starts with "it"
# describes what the one before asked about ("It was an impulse buy.", "it's the one my 2FA
# codes go to") and stays with it: on its own it read as a complaint or an account recovery.
CLAUSE_BREAK = re.compile(
    r"[.?!;]+\s+(?!it(?:s|'s|\u2019s)?\b)|\s+-\s+|,?\s+(?:and also|also|plus|and)\s+"
    r"(?=(?:can|could|would|will|i|i'd|i'm|please|what|where|when|how|why|is|are|do|does|my|"
    r"if|want|need)\b)"
    r"|,\s+(?=(?:can|could|would|will|please|what|where|when|how|why|is|are|do|does|"
    r"want|need)\b)",
    re.IGNORECASE,
)


def clause_at(text: str, position: int) -> str:
    """The sentence or clause of a message that holds a position (the evidence of an intent)."""
    start = 0
    for match in CLAUSE_BREAK.finditer(text):
        if match.start() >= position:
            return text[start : match.start()].strip()
        start = match.end()
    return text[start:].strip()


# A short question about a situation the clause before described ("When does that go
# away?") is part of it: on its own it read as a complaint. Only "that/this" point back so:
# "when is it shipping?" after a warranty question is a request of its own about the laptop.
_SHORT_QUESTION_MAX_WORDS = 5
_QUESTION_START = re.compile(r"^(?:when|where|how|why|what|is|are|does|do|will|can)\b", re.I)
_POINTER = re.compile(r"\b(?:that|this|those|these)\b", re.IGNORECASE)


def split_clauses(text: str) -> list[str]:
    """The message's clauses of two words or more (one element for a one-request message)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in [*CLAUSE_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        part = text[start:end].strip()
        if len(part.split()) >= 2:
            if spans and leans_on_previous(part):
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        start = match.end() if match else start
    return [text[first:last].strip() for first, last in spans]


def leans_on_previous(clause: str) -> bool:
    """Whether a clause is a short question about what the clause before it named."""
    return (
        len(clause.split()) <= _SHORT_QUESTION_MAX_WORDS
        and bool(_QUESTION_START.match(clause))
        and bool(_POINTER.search(clause))
    )


# What a removed clause leaves at the edges of the rest: punctuation and joining words.
_LOOSE_ENDS = re.compile(
    r"^(?:[\s,;:.?!-]+|(?:and also|also|plus|and|but|oh|so)\b)+|(?:[\s,;:-]+|\s(?:and|also)\b)+$",
    re.IGNORECASE,
)


# Words that point back to something another part of the message named ("can I get a new
# one?" after "the reset link expired"): such a part means nothing on its own.
_BACK_REFERENCE = re.compile(r"\b(?:it|its|one|ones|they|them|their)\b", re.IGNORECASE)


# A part that names what it is about has words of its own beside the pointer: "how do I swap
# the card saved on my account for a new one?" (swap, card, saved, account) is its own
# question; searched with the whole message, it was answered from the gift card article.
_OWN_WORDS = 3


def refers_back(part: str) -> bool:
    """Whether a part of a message leans on the rest of it for what it is about."""
    if not _BACK_REFERENCE.search(part):
        return False
    own = words(_BACK_REFERENCE.sub(" ", part)) - {"new", "one", "ones"}
    return len(own) <= _OWN_WORDS


def own_part(text: str, other_clauses: list[str]) -> str:
    """The message without the clauses that carried its other requests.

    Several requests in one message each deserve their own answer: "where can I grab an invoice,
    and if I send something back that isn't broken, is there a fee?" asks about the fee in
    everything but the invoice clause (the condition included, which a clause split loses).
    """
    rest = text
    for clause in sorted(other_clauses, key=len, reverse=True):
        if clause and clause in rest:
            rest = rest.replace(clause, " ")
    rest = re.sub(r"\s*[,;:](?:\s*[,;:])+", ",", re.sub(r"\s+", " ", rest)).strip()
    previous = None
    while previous != rest:
        previous, rest = rest, _LOOSE_ENDS.sub("", rest).strip()
    return rest
