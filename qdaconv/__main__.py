"""`python -m qdaconv` runs the command line."""

from qdaconv.cli import main

main()
