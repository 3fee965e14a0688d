"""The ``forestock`` command: one verb per stage over a workspace folder.

Each stage's verbs live in their own module here and register on :data:`app`.
Exit codes: 0 success, 2 bad input (the message names the file, row and
column), 1 an unexpected failure.
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from forestock.cli._common import app

# the verbs register, and --help lists them, in import order: the flow's order
# isort: off
from forestock.cli import world, load, forecast, plan, simulate, report, demo, sortation
# isort: on

__all__ = ["app", "main", "run"]

_VERBS = (world, load, forecast, plan, simulate, report, demo,
          sortation)  # registered in this order


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    try:
        app(args=argv if argv is not None else sys.argv[1:], prog_name="forestock")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so half-written temporary files are removed."""
    raise SystemExit(128 + signum)


def run() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())


if __name__ == "__main__":
    run()
