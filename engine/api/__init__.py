"""The engine's API: one route table, served in-process to the CLI and over HTTP by the server."""
