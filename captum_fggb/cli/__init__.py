"""The ``captum-fggb`` command line: ``demo`` and the subcommands of the other modules.

Every subcommand module exposes ``add_parser(subparsers)`` and ``run(args) -> int``. Errors the
package raises on purpose (bad input, missing files, no face) print one line and exit with
status 2, without a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..errors import CaptumFGGBError
from . import demo, evaluate, explain

__all__ = ["main", "build_parser"]

_SUBCOMMANDS = [demo, explain, evaluate]
_EXPECTED = (CaptumFGGBError, ValueError, TypeError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="captum-fggb",
        description="Explain face-verification decisions (FGGB and baselines on Captum).",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``captum-fggb`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except _EXPECTED as exc:
        if args.debug:
            raise
        print(f"captum-fggb {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("captum-fggb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
