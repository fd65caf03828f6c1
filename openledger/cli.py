"""The ``openledger`` command line.

Subcommands are contributed by the packages that implement them through the
``openledger.commands`` entry-point group (see pyproject.toml), so this kernel module never
imports ``node`` or ``sequencer``: each entry point is a function that adds its subparser and
sets ``handler`` on it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import entry_points

from openledger import __version__
from openledger.errors import OpenLedgerError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openledger", description="OpenLedger L2 node: sequencer, full node and AI service."
    )
    parser.add_argument("--version", action="version", version=f"openledger {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry in sorted(entry_points(group="openledger.commands"), key=lambda e: e.name):
        entry.load()(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args) or 0)
    except OpenLedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
