"""The `smac-bridge` console script.

`wrap` runs once per trial, so `main()` hands it to the wrapper before click is imported;
every other command goes to commands.py, whose click commands import their modules inside
the command function.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

PACKAGE = Path(__file__).resolve().parent
_PYTHON_FORMAT = warnings.formatwarning


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["wrap"]:
        # A stop that comes while the wrapper imports (about 0.1 s) is kept for it: it killed
        # the process without its result line, which Java SMAC counts as a crash.
        from smac_bridge.errors import stop_signals  # as `Wrapper.run` handles them

        caught: list[int] = []
        for number in stop_signals():  # SMAC's, Ctrl-C's, a closed terminal's but under nohup
            signal.signal(number, lambda number, _frame: caught.append(number))
        from smac_bridge.wrapper import main as wrap_main

        sys.exit(wrap_main(args[1:], caught))
    if args[:1] in (["launch"], ["doe"], ["dashboard"]):
        from smac_bridge.errors import stop_signals

        # a closed terminal and SIGTERM stop it as Ctrl-C does (the dashboard's --open page
        # goes with it)
        stopped = _dashboard_stopped if args[:1] == ["dashboard"] else _stopped
        for number in stop_signals():
            signal.signal(number, stopped)
    _escape_what_cannot_be_printed()
    if args[:1] in (["launch"], ["doe"], ["worker"]):
        sys.stdout, sys.stderr = _OutputThatMayGo(sys.stdout), _OutputThatMayGo(sys.stderr)
    warnings.formatwarning = _plain_warning
    try:
        from smac_bridge.commands import cli
    except KeyboardInterrupt:  # a Ctrl-C while click and the commands load printed a traceback
        from smac_bridge.errors import EXIT_STOPPED

        raise SystemExit(EXIT_STOPPED) from None

    cli.main(args=args, prog_name="smac-bridge")


def _escape_what_cannot_be_printed() -> None:
    """A terminal whose encoding lacks a character (an ASCII or Latin-1 locale) gets it as
    an escape (`\\xe9`): run reasons, paths and logs hold whatever a user's script printed,
    and a UnicodeEncodeError ended a launch halfway through its budget. The wrapper escapes
    its result line itself."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


class _OutputThatMayGo:
    """A launch's stdout or stderr, whose terminal or reader may go (a logout, an ssh
    session that drops, `| head`): its lines then go to /dev/null and the work goes on, where
    the first line that failed (EIO, EPIPE) ended the launch halfway through its budget, its
    workers stopped. `status` and the dashboard still show it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            self._to_null()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            self._to_null()

    def _to_null(self) -> None:
        """Point the stream's file at /dev/null: what it still holds, and what Python flushes
        as it exits, goes there without an error."""
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, self._stream.fileno())
        finally:
            os.close(null)
        with contextlib.suppress(OSError):
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, ... as the stream's
        return getattr(self._stream, name)


def _plain_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """smac-bridge's own warnings as `warning: MESSAGE`, as `check` prints them: the source
    line that raised one (`launcher.py:235: ScenarioWarning: ...`) means nothing to a user.
    Other packages' warnings keep Python's format, which says where they came from."""
    if Path(filename).resolve().is_relative_to(PACKAGE):
        return f"warning: {message}\n"
    return _PYTHON_FORMAT(message, category, filename, lineno, line)


def _stopped(signum: int, _frame: object) -> None:
    """A stop (Ctrl-C, SIGTERM, a closed terminal) before a launch handles its signals (while
    it imports SMAC3, reads its files, a design's rows), or between its stages: exit code
    130, as a stop later gives, not click's "Aborted!" or a silent death by the signal."""
    from smac_bridge.errors import EARLY_STOPS, EXIT_STOPPED

    EARLY_STOPS.append(signum)
    print(f"stopped ({signal.Signals(signum).name})", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_STOPPED)


def _dashboard_stopped(_signum: int, _frame: object) -> None:
    """Ctrl-C (SIGTERM, a closed terminal) stops the dashboard the same way whenever it
    comes: while it starts (imports, reads the rungroups), it printed click's "Aborted!" and
    exit code 1."""
    print("dashboard stopped", flush=True)
    raise SystemExit(0)


if __name__ == "__main__":
    main()
