"""Run by tests/test_action_crash.py: executes one proposal and dies half-way through.

Usage: python crash_child.py DATABASE_URL ACTION_ID {after_claim,after_effect}

The store is the real demo store; the only change is a process exit, like a kill -9 or a
power cut, either after the claim (before the refund) or after the refund (before the
ledger records it).
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal

from policies.config import load_policy_config
from supportgraph.commerce.demo import DemoStore
from supportgraph.commerce.records import OrderRecord
from supportgraph.db import actions as ledger
from supportgraph.db.engine import make_engine
from tools import actions as action_tools
from tools.context import ToolContext

DIED = 17


class DyingStore(DemoStore):
    """The demo store, in a process that dies around its refund."""

    moment = "after_claim"

    def refund(self, order_id: str, amount: Decimal, *, action_id: str) -> OrderRecord:
        if self.moment == "after_claim":
            os._exit(DIED)
        super().refund(order_id, amount, action_id=action_id)
        os._exit(DIED)


def main(url: str, action_id: str, moment: str) -> None:
    engine = make_engine(url)
    store = DyingStore(engine)
    store.moment = moment
    proposal = ledger.get_action(engine, action_id)
    assert proposal is not None and proposal.ticket_id is not None
    ctx = ToolContext(proposal.customer_id, proposal.ticket_id, store, engine, load_policy_config())
    action_tools.execute(ctx, proposal)
    sys.exit(0)  # not reached: the store exits first


if __name__ == "__main__":
    main(*sys.argv[1:4])
