"""atonix: the command-line client of the AtonixCorp cloud."""

__version__ = "0.1.0"
