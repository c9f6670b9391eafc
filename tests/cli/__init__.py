"""The CLI tested as a user runs it, against the embedded engine and a real server."""
