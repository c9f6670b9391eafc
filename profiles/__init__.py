"""Profiles: named backends (embedded data dir or remote endpoint) and where their secrets live."""
