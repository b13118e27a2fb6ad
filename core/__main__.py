"""``python -m civic`` runs the command line."""

from civic.cli import main

main()
