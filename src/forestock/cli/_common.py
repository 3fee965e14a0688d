"""What every verb shares: the app, consoles, options, progress bars and error handling."""

from __future__ import annotations

import datetime as dt
import errno
import json
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, Protocol, Self, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.workspace import jsonable

app = typer.Typer(
    name="forestock",
    help=(
        "Plan and rehearse a mega sale day: forecast demand per SKU and region, pre-position "
        "stock near the buyers, rehearse the day order by order, and report.\n\n"
        "Every verb works on a workspace folder (default ./forestock-ws) holding one Parquet "
        "file per table. Start with `forestock demo`, or `forestock load DIR` for your own data."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

# piped output (a log, CI) gets 120 columns rather than Rich's 80, so tables stay readable
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

WorkspaceOpt = Annotated[
    Path,
    typer.Option("--workspace", "-w", help="Workspace folder holding the tables.",
                 envvar="FORESTOCK_WORKSPACE"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of every random draw (>= 0); same "
                                                  "seed, same tables.")]
ClusterOpt = Annotated[str | None, typer.Option(
    "--cluster", metavar="ADDRESS",
    help="Run on a Dask cluster: local:N (N worker processes on this machine, started for "
         "the run) or a scheduler's address (tcp://HOST:8786). Same tables as without it; "
         "needs forestock[cluster].")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", dir_okay=False,
    help="TOML file of the stage's parameters: the table named after the stage (plan for "
         "`forestock plan`...) or top-level keys. The flags given override it; options not "
         "given take the file's values, else the parameters' defaults.")]
#: ``errno`` values of a full disk or an exhausted quota.
DISK_FULL = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if e is not None)


def one_line(text: object) -> str:
    """``text`` on one line: line breaks become spaces."""
    return " ".join(str(text).split())


def fail(message: object) -> NoReturn:
    """Print ``error: message`` on one line of stderr (markup escaped) and exit with code 2."""
    err.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False,
              soft_wrap=True)
    raise typer.Exit(2)


def warn(message: object) -> None:
    """Print ``warning: message`` on one line of stderr (markup escaped)."""
    err.print(f"[bold yellow]warning:[/] {escape(one_line(message))}", highlight=False,
              soft_wrap=True)


def disk_full(exc: OSError) -> str:
    """The one-line message of a write that ran out of room."""
    where = f" writing {exc.filename}" if exc.filename else ""
    return (f"no space left on the device{where} ({exc.strerror or 'disk full'}); nothing was "
            "published, the workspace is as it was; free some space and run again")


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn bad input and a full disk into one-line errors with exit code 2."""
    try:
        yield
    except (ForestockError, ValueError) as exc:
        fail(exc)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            fail(disk_full(exc))
        raise


class RichCallbacks(Callbacks):
    """Shows each long task as a Rich progress bar with rate and time left."""

    def __init__(self, progress: Progress, unit: str = "") -> None:
        self.progress = progress
        self.unit = unit
        self.tasks: dict[str, TaskID] = {}

    def on_start(self, task: str, total: float) -> None:
        self.tasks[task] = self.progress.add_task(task, total=total)

    def on_step(self, task: str, advance: float) -> None:
        self.progress.update(self.tasks[task], advance=advance)

    def on_end(self, task: str) -> None:
        tid = self.tasks[task]
        self.progress.update(tid, completed=self.progress.tasks[tid].total)


class RateColumn(ProgressColumn):
    """Work done per second (orders per second in a rehearsal)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


def progress_bar(quiet: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )


def parse_date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ForestockError(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None


def rich_table(title: str, frame: pd.DataFrame, formats: dict[str, str] | None = None) -> Table:
    """A Rich table of ``frame``; the title, headers and cells are shown as text, never markup."""
    formats = formats or {}
    t = Table(title=Text(title), title_justify="left")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        t.add_column(Text(str(col)), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for col, v in zip(frame.columns, row, strict=True):
            fmt = formats.get(str(col))
            if fmt and v is not None and not (isinstance(v, float) and pd.isna(v)):
                cells.append(format(v, fmt))
            elif isinstance(v, float):
                cells.append(f"{v:,.2f}")
            elif isinstance(v, int):
                cells.append(f"{v:,}")
            else:
                cells.append(str(v))
        t.add_row(*(Text(c) for c in cells))
    return t


def emit_json(payload: dict[str, Any]) -> None:
    """Print ``payload`` as strict JSON: NaN and infinities as ``null``, never ``NaN``."""
    out.print_json(json.dumps(jsonable(payload), allow_nan=False, ensure_ascii=False))


class _Params(Protocol):
    """A stage's parameters: frozen, checked, loadable from TOML."""

    @classmethod
    def from_file(cls, path: str | Path) -> Self: ...

    def replace(self, **changes: Any) -> Self: ...


P = TypeVar("P", bound=_Params)


def stage_params(cls: type[P], config: Path | None, **flags: Any) -> P:
    """``cls``'s parameters: its defaults, or a TOML file's (``config``), with the flags
    given (those not None) over them.

    Raises
    ------
    ForestockError
        Naming the file: missing, not TOML, an unknown key or a value out of range.
    """
    params = cls()
    if config is not None:
        try:
            params = cls.from_file(config)
        except FileNotFoundError:
            raise ForestockError(f"--config {config}: no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ForestockError(f"--config {config} is not valid TOML: {exc}") from None
        except (ValueError, TypeError) as exc:
            where = "" if str(config) in str(exc) else f"{config}: "
            raise ForestockError(f"--config {where}{exc}") from None
    given = {k: v for k, v in flags.items() if v is not None}
    return params.replace(**given) if given else params
