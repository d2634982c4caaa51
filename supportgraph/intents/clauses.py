"""Clauses of a message: where one request ends and the next begins."""

from __future__ import annotations

import re

from supportgraph.knowledge.extract import words

# Where people join requests. A new request starts after a sentence end, a semicolon, a dash, a
# colon ("Three things: cancel ..."), before a list number ("1) reset my password 2) cancel
# ORD-789"), and after a comma or a joining word ("and", "also", "btw", "then", ...) when the
# next word opens a request: a question or modal word, "I"/"my" (not after a bare comma: "If
# it hasn't, I want to cancel" is one request), or a verb customers open a request with
# ("..., reset my password, and tell me your return policy"). Nouns joined by "and" ("my
# shoes and socks haven't arrived") are one request. A sentence that starts with "it"
# describes what the one before asked about ("It was an impulse buy.", "it's the one my 2FA
# codes go to") and stays with it: on its own it read as a complaint or an account recovery.
_QUESTION_OR_MODAL = (
    r"can|could|would|will|please|pls|what|what's|whats|where|where's|wheres|when|how|why|"
    r"is|are|do|does|want|need"
)
_REQUEST_VERB = (
    r"cancel|reset|refund|change|update|send|tell|track|give|let|stop|remove|delete|close|"
    r"check|get|put|add|unsubscribe|swap|replace|switch|confirm|fix|email|ship|return|"
    r"connect|transfer|process|issue|sort|help|find"
)
_OPENER = rf"(?:{_QUESTION_OR_MODAL}|{_REQUEST_VERB})\b"
_SPEAKER = r"i|i'd|i'm|i've|i'll|my|if"
_JOINER = (
    r"(?:and\s+|oh\s+and\s+)?(?:also|plus|btw|by\s+the\s+way|lastly|finally|separately)"
    r"|and|oh\s+and"
)
CLAUSE_BREAK = re.compile(
    r"[.?!;]+\s+(?!it(?:s|'s|\u2019s)?\b)|\s+-\s+|\s+(?=\(?\d{1,2}[.)]\s)"
    # "could you also cancel it": "also" after its subject joins nothing
    rf"|(?<!\byou)(?<!\bi),?\s+(?:{_JOINER}),?\s+(?={_OPENER}|(?:{_SPEAKER})\b)"
    rf"|[,:]\s+(?={_OPENER})",
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
    if len(spans) < 2:
        return [text.strip()]
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
