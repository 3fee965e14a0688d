"""The ``forestock`` command: one verb per stage over a workspace folder.

Each stage's verbs live in their own module here and register on :data:`app`.
Exit codes: 0 success, 2 bad input (the message names the file, row and
column), 1 an unexpected failure.
"""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

import typer
from rich.markup import escape

# typer vendors click; its usage errors are raised from here when not standalone
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from forestock.cli._common import DISK_FULL, app, disk_full, err, one_line, warn
from forestock.errors import ForestockError, ForestockWarning

# the verbs register, and --help lists them, in import order: the flow's order
# isort: off
from forestock.cli import world, load, forecast, plan, simulate, report, demo, sortation, warm
from forestock.cli import serve, insights
# isort: on

__all__ = ["app", "main", "run"]

_VERBS = (world, load, forecast, plan, simulate, report, demo,
          sortation, warm, serve, insights)  # registered in this order


def _printer(previous: Callable[..., None]) -> Callable[..., None]:
    """``warnings.showwarning`` that prints forestock's warnings as one line each."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if issubclass(category, ForestockWarning):
            warn(message)
        else:
            previous(message, category, filename, lineno, file, line)

    return show


def _error(message: str) -> int:
    err.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False, soft_wrap=True)
    return 2


class _OnlyWarnings(logging.Filter):
    """Drops Dask's records below warnings: its loggers are at INFO (a cluster's start and
    close, a dozen lines) and reach the root's handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or \
            not record.name.startswith(("distributed", "dask"))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Bad input, invalid options, a workspace that does not exist and a full
    disk print one ``error:`` line and return 2; forestock's warnings print one
    ``warning:`` line each.
    """
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _OnlyWarnings) for f in handler.filters):
            handler.addFilter(_OnlyWarnings())
    with warnings.catch_warnings():
        warnings.simplefilter("always", ForestockWarning)
        warnings.showwarning = _printer(warnings.showwarning)
        try:
            code: Any = app(args=argv if argv is not None else sys.argv[1:],
                            prog_name="forestock", standalone_mode=False)
        except NoArgsIsHelpError as exc:
            exc.show()
            return exc.exit_code
        except UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            return _error(f"{exc.format_message()}{hint}")
        except ClickException as exc:
            _error(exc.format_message())
            return exc.exit_code
        except typer.Abort:
            err.print("aborted")
            return 130
        except ForestockError as exc:
            return _error(str(exc))
        except OSError as exc:
            if exc.errno in DISK_FULL:
                return _error(disk_full(exc))
            raise
        except SystemExit as exc:
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)
    return code if isinstance(code, int) else 0


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so half-written temporary files are removed."""
    raise SystemExit(128 + signum)


def run() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())


if __name__ == "__main__":
    run()
