"""The revisions, oldest first by number; each names the one it follows."""
