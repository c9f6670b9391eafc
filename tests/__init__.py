"""The atonix test suite."""
