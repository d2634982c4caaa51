"""Removing a customer's personal data from text that other customers' answers may reuse."""

from __future__ import annotations

import re
from collections.abc import Iterable

from supportgraph.text import (
    CARD,
    EMAIL,
    ORDER_ID,
    STREET_ADDRESS,
    STREET_SUFFIXES,
    mask_card_numbers,
)

# Digit groups joined by spaces, dots, dashes or brackets, optionally with a country code;
# the digit count is checked afterwards (7 to 15, as in E.164).
PHONE = re.compile(
    r"(?<![\w+-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,5}(?:[\s.-]\d{2,6}){1,4}(?![\w-])"
    r"|(?<![\w+-])\+?\d{7,15}(?![\w-])"
)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A street line without city or ZIP ("12 Alder Lane"); STREET_ADDRESS needs the whole address.
STREET_LINE = re.compile(
    r"(?<![-\w])\d{1,6}\s+(?:[A-Za-z0-9.'-]+\s+){0,3}"
    rf"(?:{STREET_SUFFIXES})\b\.?(?:,?\s*(?:Apt|Suite|Unit|#)\.?\s*\w+)?",
    re.IGNORECASE,
)


def _cards(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        number = found.rstrip(" -")
        _, was_card = mask_card_numbers(number)  # the Luhn check lives there
        return "[card]" + found[len(number) :] if was_card else found

    return CARD.sub(replace, text)


def _phones(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        digits = re.sub(r"\D", "", found)
        if not 7 <= len(digits) <= 15 or ISO_DATE.fullmatch(found):
            return found
        return "[phone]"

    return PHONE.sub(replace, text)


def _phones_around_order_ids(text: str) -> str:
    # "ORD 1234567" would otherwise read as a phone number.
    pieces: list[str] = []
    last = 0
    for match in ORDER_ID.finditer(text):
        pieces += [_phones(text[last : match.start()]), match.group(0)]
        last = match.end()
    return "".join([*pieces, _phones(text[last:])])


def _names(text: str, names: Iterable[str]) -> str:
    # Whole names in any case; a single part only capitalized or in capitals, so that a
    # customer called Will or May does not cost every "will" and "may" in the answer.
    full = {name.strip() for name in names if name.strip()}
    parts = {part for name in full for part in re.split(r"[\s-]+", name) if len(part) >= 2}
    for name in sorted(full, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[name]", text, flags=re.IGNORECASE)
    for part in sorted(parts, key=len, reverse=True):
        forms = {part.capitalize(), part.upper(), part}
        pattern = "|".join(re.escape(form) for form in sorted(forms))
        text = re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", "[name]", text)
    return re.sub(r"\[name\](?:\s+\[name\])+", "[name]", text)


def redact(text: str, *, names: Iterable[str] = (), keep_order_ids: bool = False) -> str:
    """The text without emails, card numbers, street addresses, phone numbers or these names.

    Order ids go too: they point at one customer and mean nothing in another's answer.

    Args:
        text: What to clean.
        names: The customer's names: a full name in any case, each part of it when
            capitalized or in capitals.
        keep_order_ids: Leave order ids as they are (traces and logs need them, and they
            name an order, not a person).

    Returns:
        The text with placeholders such as ``[email]`` where personal data was.

    """
    text = EMAIL.sub("[email]", text)
    text = _cards(text)
    text = STREET_ADDRESS.sub("[address]", text)
    text = STREET_LINE.sub("[address]", text)
    if keep_order_ids:
        text = _phones_around_order_ids(text)
    else:
        text = _phones(ORDER_ID.sub("[order]", text))
    return _names(text, names)
