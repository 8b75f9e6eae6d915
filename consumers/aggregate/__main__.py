"""`python -m consumers.aggregate [cluster options] [aggregate options]`: the aggregator
without going through `pulseboard` (same flags as `pulseboard aggregate`)."""

from __future__ import annotations

import argparse
import sys

from consumers.aggregate import command
from pulseboard.cli_support import cluster_options, load_config
from pulseboard.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m consumers.aggregate", parents=[cluster_options()], description=__doc__
    )
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return command.run(args, load_config(args))
    except ConfigError as exc:
        print(f"aggregate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
