"""Errors a user can fix: they name the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input in a file or option; the CLI prints it as one line and exits 1."""

    def __init__(self, path: str | Path | None, line: int | None, message: str) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or ""
        if self.path and self.line is not None:
            where = f"{self.path}:{self.line}"
        return f"{where}: {self.message}" if where else self.message
