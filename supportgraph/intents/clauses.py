"""Clauses of a message: where one request ends and the next begins."""

from __future__ import annotations

import re

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


def split_clauses(text: str) -> list[str]:
    """The message's clauses of two words or more (one element for a one-request message)."""
    parts = (part.strip() for part in CLAUSE_BREAK.split(text))
    return [part for part in parts if len(part.split()) >= 2]
