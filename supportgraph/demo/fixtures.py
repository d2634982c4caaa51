"""Hand-written customers and orders that the docs, tests and eval scenarios refer to by id.

Each order: (id, item, price in cents, status, days since ordered, extra fields).
"""

from __future__ import annotations

from typing import Any

FIXTURE_CUSTOMERS: list[dict[str, Any]] = [
    {
        "id": "cust_456",
        "name": "Dana Whitfield",
        "email": "dana.whitfield@example.com",
        "phone": "+1-555-0145",
        "address": "12 Alder Lane, Portland, OR 97205",
        "orders": [
            ("ORD-789", "Aurora 14 laptop", 129900, "processing", 3, {}),
            (
                "ORD-790",
                "Nimbus wireless headphones",
                14900,
                "delivered",
                15,
                {"delivered_ago": 10},
            ),
        ],
    },
    {
        "id": "cust_101",
        "name": "Marcus Lee",
        "email": "marcus.lee@example.com",
        "phone": "+1-555-0101",
        "address": "480 Birch Street, Austin, TX 78701",
        "orders": [
            ("ORD-1101", "Trail running shoes", 6450, "shipped", 3, {"shipped_ago": 2}),
            ("ORD-1102", "Espresso machine", 22000, "delivered", 50, {"delivered_ago": 45}),
        ],
    },
    {
        "id": "cust_102",
        "name": "Priya Nair",
        "email": "priya.nair@example.com",
        "phone": "+1-555-0102",
        "address": "77 Cedar Court, Edison, NJ 08817",
        "orders": [
            ("ORD-1201", "Bluetooth speaker", 8999, "delivered", 9, {"delivered_ago": 5}),
            ("ORD-1202", "27-inch 4K monitor", 89900, "delivered", 16, {"delivered_ago": 12}),
        ],
    },
    {
        "id": "cust_103",
        "name": "Tom Becker",
        "email": "tom.becker@example.com",
        "phone": "+1-555-0103",
        "address": "9 Dogwood Drive, Columbus, OH 43004",
        "orders": [
            ("ORD-1301", "Desk lamp", 3900, "cancelled", 20, {}),
            ("ORD-1302", "Yoga mat", 2900, "refunded", 30, {"delivered_ago": 25}),
        ],
    },
    {
        "id": "cust_104",
        "name": "Aisha Khan",
        "email": "aisha.khan@example.com",
        "phone": "+1-555-0104",
        "address": "310 Elm Avenue, Chicago, IL 60614",
        "orders": [
            (
                "ORD-1401",
                "Air purifier",
                30000,
                "partially_refunded",
                12,
                {"delivered_ago": 8, "refunded_cents": 10000},
            ),
        ],
    },
    {
        "id": "cust_105",
        "name": "Leo Martins",
        "email": "leo.martins@example.com",
        "phone": "+1-555-0105",
        "address": "56 Fir Road, Miami, FL 33101",
        "orders": [
            ("ORD-1501", "Phone case", 4500, "processing", 1, {}),
            (
                "ORD-1502",
                "Gift card",
                5000,
                "delivered",
                5,
                {"delivered_ago": 3, "final_sale": True},
            ),
        ],
    },
]
