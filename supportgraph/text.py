"""Text inspection shared by the guard and the storage layer: entities, PII, injection cues."""

from __future__ import annotations

import re
from collections.abc import Sequence

ORDER_ID = re.compile(r"\bORD-?\s?(\d{2,10})\b", re.IGNORECASE)
AMOUNT = re.compile(r"\$\s?(\d{1,6}(?:,\d{3})*(?:\.\d{2})?)")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
INJECTION = re.compile(
    r"ignore (all |any |the )?(previous|prior|above) (instructions|rules)|system prompt|"
    r"you are now|developer mode|disregard (the |your )?(policy|rules|instructions)|"
    r"act as (an? )?(admin|administrator|developer)|override (the )?polic",
    re.IGNORECASE,
)


STREET_SUFFIXES = (
    r"St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Ln|Lane|Dr|Drive|Way|Ct|Court|Pl|Place|"
    r"Ter|Terrace|Pkwy|Parkway|Hwy|Highway"
)
STREET_ADDRESS = re.compile(
    r"(?<![-\w])\d{1,6}\s+(?:[A-Za-z0-9.'-]+\s+){0,4}"
    rf"(?:{STREET_SUFFIXES}|Rua|Calle)\b\.?"
    r"(?:[,\s]+[A-Za-z0-9#.' -]+?){0,4}?(?:[,\s]+[A-Z]{2})?(?:[,\s]+\d{5}(?:-\d{4})?)",
    re.IGNORECASE,
)


def street_address(text: str) -> str | None:
    """A full street address (number, street, city, state, ZIP) written in the text."""
    match = STREET_ADDRESS.search(text)
    return match.group(0).strip(" ,.") if match else None


def order_ids(text: str) -> list[str]:
    """Order ids in the order they appear, normalized to ``ORD-<digits>``."""
    seen: list[str] = []
    for match in ORDER_ID.finditer(text):
        order_id = f"ORD-{match.group(1)}"
        if order_id not in seen:
            seen.append(order_id)
    return seen


def amounts(text: str) -> list[str]:
    """Dollar amounts mentioned, as plain decimals."""
    return [match.group(1).replace(",", "") for match in AMOUNT.finditer(text)]


# A refund asked for in parts: each part could pass the approval ceiling that the whole would not.
SPLIT_REFUND = re.compile(
    r"\bsplit(?:ting)?\b|\bbreak(?:ing)?\b[^.?!]{0,40}\binto\b"
    r"|\b(?:two|three|four|\d+|several|multiple) (?:separate |smaller )?"
    r"(?:refunds|parts|payments)\b"
    r"|\b(?:ask for|refund|do|send) the (?:rest|remainder)\b|\bthe other \$"
    r"|\beach (?:one |refund )?(?:is )?(?:under|below)\b",
    re.IGNORECASE,
)


def requested_refund_amount(text: str, mentioned: Sequence[str]) -> str | None:
    """The one refund amount the message asks for, or None: all that is left on the order.

    ``mentioned`` are the message's amounts (:func:`amounts`, read once by the guard). A
    message naming several amounts ("over $500 needs approval, so refund $400") or asking for
    a refund in parts has no single amount to act on; reading it as the whole remaining sum
    lets the approval ceiling judge what is really asked for.
    """
    found = set(mentioned)
    return found.pop() if len(found) == 1 and not SPLIT_REFUND.search(text) else None


# "How do I start a return?" asks for the procedure, not for an action on whichever order.
HOW_TO = re.compile(
    r"\bhow (?:do|can|should|would) (?:i|we)\b|\bhow to\b"
    r"|\bwhat(?:'s| is) the (?:process|procedure)\b"
    r"|\bdo (?:you|y'all)(?: guys)? (?:do|offer|refund|give|allow|match)\b"
    r"|\bwhat(?:'s| is| are) (?:your|the) [\w -]{0,30}?"
    r"(?:policy|policies|window|period|time ?frame|deadline|rules|fees?)\b"
    r"|\bhow (?:long|many days) (?:do|does|have) (?:i|we)\b"
    r"|\bis there (?:a|any) (?:charge|fee|cost)\b|\bdo (?:i|we) (?:have to )?pay (?:for|to)\b",
    re.IGNORECASE,
)


def asks_how(text: str) -> bool:
    """Whether the message asks how something is done, what the rules are, or if it is done.

    "How do I start a return?", "what's your return window?" and "do you refund the
    difference?" ask about the policy; "can you refund my order?" asks for it.
    """
    return bool(HOW_TO.search(text))


# "It says delivered but I never got it" is about a delivered order; "the tracking number
# doesn't work" about one that has shipped ("shipped" alone is often "hasn't shipped").
DESCRIBED_STATUSES = (
    (re.compile(r"\bdelivered\b", re.IGNORECASE), frozenset({"delivered"})),
    (
        re.compile(r"\b(?:tracking|in transit|out for delivery)\b", re.IGNORECASE),
        frozenset({"shipped", "delivered"}),
    ),
)


def statuses_described(text: str) -> frozenset[str]:
    """The order statuses a message describes its order in, if any."""
    found: frozenset[str] = frozenset()
    for pattern, statuses in DESCRIBED_STATUSES:
        if pattern.search(text):
            found |= statuses
    return found


# "The reset link says it expired", "the email never arrived": the help centre says why.
LINK_TROUBLE = re.compile(
    r"\b(?:expired?|invalid|broken)\b"
    r"|\b(?:doesn't|does not|didn't|did not|won't|isn't|is not|never|not)"
    r" (?:work(?:ing)?|arrive[ds]?|arriving|come|came|show(?:ed|s)? up|load(?:s|ing)?)\b",
    re.IGNORECASE,
)


def link_trouble(text: str) -> bool:
    """Whether the message says a link or email did not work or did not come."""
    return bool(LINK_TROUBLE.search(text))


# "Where is my refund?" is about the customer's own refund; "when do refunds arrive?" is not.
OWN_REFUND = re.compile(
    r"\b(?:my|our) (?:refund|reimbursement|money)\b"
    r"|\b(?:i|we) (?:still )?(?:haven't|have not|didn't|did not|never)"
    r" (?:got|gotten|received|seen)\b",
    re.IGNORECASE,
)


def asks_about_own_refund(text: str) -> bool:
    """Whether the message asks about a refund of the customer's own, not refunds in general."""
    return bool(OWN_REFUND.search(text))


def emails(text: str) -> list[str]:
    """Email addresses mentioned."""
    return EMAIL.findall(text)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_card_numbers(text: str) -> tuple[str, bool]:
    """Replace payment card numbers (Luhn-valid) with a mask keeping the last four digits."""
    found = False

    def _mask(match: re.Match[str]) -> str:
        nonlocal found
        digits = re.sub(r"\D", "", match.group(0))
        if not 13 <= len(digits) <= 19 or not _luhn_ok(digits):
            return match.group(0)
        found = True
        return f"[card ending {digits[-4:]}]"

    return CARD.sub(_mask, text), found


def looks_like_injection(text: str) -> bool:
    """True when the text tries to talk to the system rather than to support."""
    return bool(INJECTION.search(text))
