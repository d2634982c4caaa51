"""Personal data never reaches the knowledge base: the redact() table."""

from __future__ import annotations

import pytest

from supportgraph.agents.redaction import redact

NAMES = ["Dana Whitfield", "Will Ortiz"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to dana.whitfield@example.com", "write to [email]"),
        ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
        (
            "card 4111-1111-1111-1112 is not Luhn-valid",
            "card 4111-1111-1111-1112 is not Luhn-valid",
        ),
        ("call +1-555-0145 today", "call [phone] today"),
        ("call (503) 555-0145 or 07911 123456", "call [phone] or [phone]"),
        ("or +44 20 7946 0958.", "or [phone]."),
        ("ship to 12 Alder Lane, Portland, OR 97205 please", "ship to [address] please"),
        ("send it to 480 Birch Street instead", "send it to [address] instead"),
        ("Hi, I am Dana Whitfield.", "Hi, I am [name]."),
        ("DANA WHITFIELD and dana whitfield", "[name] and [name]"),
        ("Mr Whitfield called; Dana too", "Mr [name] called; [name] too"),
        ("Will Ortiz will call back", "[name] will call back"),  # "will" stays a word
        ("refund for ORD-1102 and ord 789", "refund for [order] and [order]"),
        (
            "refund $1,299.00 on 2024-05-01 within 30 days, 3 items, tracking 1Z999AA10123456784",
            "refund $1,299.00 on 2024-05-01 within 30 days, 3 items, tracking 1Z999AA10123456784",
        ),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text, names=NAMES) == expected


def test_redact_without_names_keeps_names() -> None:
    assert redact("Dana Whitfield asked") == "Dana Whitfield asked"
