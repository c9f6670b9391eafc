"""The HTTP contract, tested against the real server."""
