"""Every action and every read of live account data, over the commerce backend interface."""
