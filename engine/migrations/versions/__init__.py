"""The revisions, oldest first: 0001 is the first schema, 0002 release 0.1.0's."""
