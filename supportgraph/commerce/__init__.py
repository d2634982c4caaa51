"""The commerce backend: the interface the tools call, and the demo store behind it."""
