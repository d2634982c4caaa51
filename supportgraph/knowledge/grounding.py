"""The groundedness check: every checkable fact in an answer must appear in its evidence.

Checkable facts are amounts, percentages, durations, dates, order ids and other numbers
(policy numbers, phone numbers, counts). Wording may differ; these may not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_UNITS = r"(?:business\s+)?(?:minutes?|hours?|days?|weeks?|months?|years?)"
DURATION = re.compile(rf"\b\d+(?:\s?(?:-|–|to)\s?\d+)?[\s-]{_UNITS}\b", re.IGNORECASE)
FACT_PATTERNS = (
    re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?"),  # amounts
    re.compile(r"\d+(?:\.\d+)?\s?%"),  # percentages
    DURATION,
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),  # ISO dates
    re.compile(
        rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b", re.IGNORECASE
    ),  # written dates
    re.compile(r"\bORD-?\d+\b", re.IGNORECASE),  # order ids
    re.compile(r"\b\d[\d,.\-/]*\d\b|\b\d\b"),  # any other number
)


def _normalize(fact: str) -> str:
    fact = fact.lower().replace("–", "-").replace(" to ", "-")
    fact = re.sub(r"\s+", " ", fact)
    fact = re.sub(r"\s?-\s?", "-", fact)
    return fact.replace("$ ", "$").replace(",", "").strip()


def extract_facts(text: str) -> list[str]:
    """The checkable facts of a text, longest first, without overlaps."""
    spans: list[tuple[int, int]] = []
    facts: list[str] = []
    for pattern in FACT_PATTERNS:
        for match in pattern.finditer(text):
            if any(start < match.end() and match.start() < end for start, end in spans):
                continue
            spans.append(match.span())
            facts.append(match.group(0))
    return facts


def _amount_in(amount: str, haystack: str) -> bool:
    """An amount written with or without cents ($89 / 89.00) matches the evidence's figure."""
    whole = amount.removesuffix(".00")
    return bool(re.search(rf"(?<![\d.]){re.escape(whole)}(\.00)?(?![\d])", haystack))


def unsupported_facts(answer: str, evidence: Iterable[str]) -> list[str]:
    """Facts of the answer that no piece of evidence contains (normalized)."""
    haystack = _normalize(" \n ".join(evidence))
    supported_numbers = set(re.findall(r"\d+(?:\.\d+)?", haystack))
    missing = []
    for fact in extract_facts(answer):
        normalized = _normalize(fact)
        if normalized in haystack or (
            normalized.startswith("$") and _amount_in(normalized[1:], haystack)
        ):
            continue
        numbers = re.findall(r"\d+(?:\.\d+)?", normalized)
        # A bare number (a count, a policy number) is fine when the evidence states it.
        if FACT_PATTERNS[-1].fullmatch(fact) and numbers and set(numbers) <= supported_numbers:
            continue
        missing.append(fact)
    return missing
