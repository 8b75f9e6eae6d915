"""Commands that put stages together (the `history` subcommands, the backfill): like
``pulseboard/cli.py`` they stand on top of every package, and only the command line imports
them (docs/architecture.md)."""
