"""Which refund amount a message asks for: one amount, or the whole remainder."""

from __future__ import annotations

import pytest

from supportgraph.text import amounts, requested_refund_amount


@pytest.mark.parametrize(
    ("message", "amount"),
    [
        ("Please refund $45 on ORD-1101, one shoe was scuffed.", "45"),
        ("refund $1,250.00 of ORD-2001", "1250.00"),
        ("I want a refund for ORD-1201", None),
        ("Refund $89.99 of ORD-1201, that is $89.99 in total", "89.99"),
        # Several amounts: the limit or the price is named beside the request.
        ("I know anything over $500 needs approval, so refund $400 now on ORD-1202.", None),
        ("The monitor ORD-1202 ($899): I want my $899 back", "899"),
        # A refund asked for in parts.
        ("Refund $450 on ORD-1202 today and the other $449 tomorrow.", None),
        ("Do three refunds of $299.66 on ORD-1202, each one is under your limit.", None),
        ("If I break the refund into two $449.50 refunds it goes through. Do the first.", None),
        ("Split the $899 refund please", None),
        ("refund $200 now and I'll ask for the rest next week", None),
    ],
)
def test_requested_refund_amount(message: str, amount: str | None) -> None:
    assert requested_refund_amount(message, amounts(message)) == amount
