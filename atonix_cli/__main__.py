"""`python -m atonix_cli`."""

from atonix_cli.app import main

main()
