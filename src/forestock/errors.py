"""forestock's exceptions and warnings."""

from __future__ import annotations


class ForestockError(Exception):
    """Base class of errors caused by the user's data or request (CLI exit code 2)."""


class TableError(ForestockError):
    """A table breaks its contract; names the file, the row and the column.

    ``row`` is the 1-based data row (the header is row 0).
    """

    def __init__(self, file: str, row: int, column: str, problem: str) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.problem = problem
        where = "header" if row == 0 else f"row {row}"
        col = "" if column == "-" else f", column {column!r}"
        super().__init__(f"{file}, {where}{col}: {problem}")


class MissingTableError(ForestockError):
    """A stage needs a table the workspace does not hold."""


class WorkspaceNotFoundError(ForestockError):
    """A verb that reads a workspace was pointed at a folder that does not exist."""


class InfeasibleError(ForestockError):
    """A request cannot be met (for example stock beyond every warehouse's room)."""


class ForestockWarning(UserWarning):
    """Soft numeric or data trouble that does not stop a stage."""
