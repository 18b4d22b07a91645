"""Errors a user can fix (they name the file, the line and what was expected), and how a
launch ends: its exit codes, the limits its workers end at, the signals that stop it."""

from __future__ import annotations

import re
import signal
from pathlib import Path


class InputError(Exception):
    """Bad input in a file or option; the CLI prints it as one line and exits 1."""

    def __init__(self, path: str | Path | None, line: int | None, message: str) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = _shortened(message)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or ""
        if self.path and self.line is not None:
            where = f"{self.path}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


LONGEST_WORD_SHOWN = 1000
"""Characters of one word (a value the user gave) an error quotes whole: a value of 2 MB on
one line of a file was printed back in full."""


def _shortened(message: str) -> str:
    """MESSAGE with each word longer than LONGEST_WORD_SHOWN cut to its start and its length."""
    return re.sub(
        rf"\S{{{LONGEST_WORD_SHOWN + 1},}}",
        lambda word: f"{word.group()[:200]}... ({len(word.group())} characters)",
        message,
    )


EXIT_DONE = 0
"""Every worker ended normally (budget used, limit reached, nothing left to propose)."""
EXIT_FAILED = 1
"""Bad input, a worker died, or the training script fails on every configuration."""
EXIT_STOPPED = 130
"""Stopped by Ctrl-C, SIGTERM or SIGHUP; `--resume` continues."""

RUN_BUDGET_USED = "run budget used up"
WALLCLOCK_REACHED = "wallclock-limit reached"
TUNER_TIMEOUT_REACHED = "tunerTimeout reached"
BUDGET_LIMIT_USED = "budget-limit used up"
"""Why a worker ended with EXIT_DONE, as it and a resume that finds the limit used say it
(`doe` tells a design whose rows all ran by the first)."""


def stop_signals() -> tuple[int, ...]:
    """The signals that stop a launch or a worker as Ctrl-C does: SIGINT, SIGTERM, and SIGHUP
    (its terminal or ssh session closed), unless SIGHUP is ignored, as `nohup` has it: then
    the work goes on."""
    hangup = () if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN else (signal.SIGHUP,)
    return (signal.SIGINT, signal.SIGTERM, *hangup)


EARLY_STOPS: list[int] = []
"""Signals the launch's first handler (cli.py) took before the launch's own were in place.
Its SystemExit can be lost: CPython drops an exception raised while C code that clears
errors runs Python code (an attribute lookup through hasattr, say), so the launch looks here
as well."""
EXIT_ABORT = 255
"""A run aborted the launch as SMAC 2.10 would (ABORT, first-run crash, SAT/UNSAT)."""


class LaunchAbort(Exception):
    """The launch must stop: the message says why, `exit_code` is the launch's exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_ABORT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def refuse_device(path: str | Path, what: str) -> None:
    """An InputError for a device where WHAT, a file, belongs: reading one may never end
    (/dev/zero, gigabytes in seconds). A pipe ends with its writer (`pcs /dev/stdin`)."""
    found = Path(path)
    if found.is_char_device() or found.is_block_device():
        raise InputError(path, None, f"{what} is a device, not a file")


def decode_text(path: str | Path, data: bytes, what: str) -> str:
    """DATA (the bytes of a file the user gave) as text, without the byte-order mark some
    editors write first; an InputError naming the line of the first byte that is not text
    (not UTF-8, or NUL): a binary file where a text file belongs."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        raise InputError(path, line, f"{what} is not UTF-8 text (byte 0x{byte:02x})") from None
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise InputError(path, line, f"{what} holds a NUL byte: a binary file?")
    return text


def text_lines(text: str) -> list[str]:
    """TEXT's lines as Java SMAC's readLine splits them, at \\n, \\r\\n and \\r only:
    str.splitlines also splits at a form feed or a Unicode line separator inside a comment."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[:-1] if lines and lines[-1] == "" else lines
