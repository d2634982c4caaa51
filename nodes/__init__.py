"""One module per graph node: each reads the keys it needs and writes only its own."""
