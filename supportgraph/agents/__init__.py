"""Human agents: their queue, assignment, replies and resolutions."""
