"""Helpers shared by the engine, HTTP and CLI tests."""
