"""Pure policy decisions: what the agent may do, for whom, and what must go to a human."""

from policies.config import PolicyConfig, load_policy_config
from policies.decision import PolicyDecision

__all__ = ["PolicyConfig", "PolicyDecision", "load_policy_config"]
