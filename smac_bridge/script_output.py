"""What a script's output says once it has ended (result lines, last words, errors,
`--metric` and `--abort-pattern` matches, the report() in result.json), read in bounded time
whatever it printed: apart from running the script, so that it can be read and tested alone.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from smac_bridge.layout import RunDir, read_json_object
from smac_bridge.protocol import (
    STATUSES,
    TERMINAL_CODES,
    script_result_line,
    without_terminal_codes,
)

_ERROR_NAME = re.compile(r"[\w.]{1,200}")
_ERROR_ENDINGS = ("Error", "Exception", "Interrupt", "Exit")
_ERROR_WORDS = tuple(ending.encode() for ending in _ERROR_ENDINGS)  # lines worth a look
_SCAN_CHUNK = 1 << 16  # bytes read at a time from the script's output
_LINE_KEEP = 1 << 16  # bytes kept of each end of a longer output line
_SCAN_TAIL = 16 << 20  # bytes read of the output's end: a flood of gigabytes is not read whole
_RESULT_TAIL = 256 << 20  # bytes of stdout's copy searched for result lines: all, by default
# Every result line's marker as protocol reads it (_RESULT_RES), from its second letter: a
# regular expression that starts with a literal is searched fast (250 MB in 0.3-1.6 s, where
# from `[Rr]` on it took 1-2.7 s), and only the lines it finds are decoded and parsed.
_RESULT_MARK = re.compile(
    rb"esult\s*of\s*(?:this)?\s*[Aa]lgorithm\s*[rR]un\s*:"
    rb"|esult\s+(?:[Ff]or|[oO]f)\s+(?:HAL|ParamILS|SMAC|[tT]his [wW]rapper):"
)
_CUT_MARK = "\u2026".encode()  # before the end of a line cut at the start of what is read
# What protocol.without_terminal_codes takes out of a line before a marker is looked for, as
# bytes, and within a line (a block's window-title code runs to no later line): in a marker
# (`\x1b[1mResult\x1b[0m of this algorithm run:`, `Re\x1b[1msult`) _RESULT_MARK sees none.
# Every such code starts with one of _CONTROL_BYTES.
_TERMINAL_BYTES = re.compile(TERMINAL_CODES.pattern.replace("^", "^\\n\\r", 1).encode("ascii"))
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1C)])


@dataclass
class Scan:
    """What the wrapper found in the script's output: the result lines and the last line of
    its stdout (SMAC reads stdout only: a warning on stderr is no result), the rest in both
    streams (a traceback goes to stderr, a logger's metric may too)."""

    result_lines: int = 0
    last_result: str | None = None
    last_line: str = ""  # of stdout
    last_words: str = ""  # the last line of either stream
    last_error: str = ""
    result_in_output: bool = False  # a result line in either stream (on stderr: not read)
    metric: str | None = None
    abort_line: str | None = None


def scan_log(
    path: Path,
    offset: int,
    stdout: Path,
    metric: re.Pattern[str] | None,
    aborts: list[re.Pattern[str]],
) -> Scan:
    """One pass over the output from OFFSET: last words, errors, metric, aborts; one over
    STDOUT alone: result lines and its last line. The first reads the last _SCAN_TAIL bytes
    at most, so that a script that floods its output for the whole cutoff still gets its
    answer within about a second; the second the last _RESULT_TAIL (stdout's copy whole
    within the default --log-limit): a result line followed by a flood of warnings still
    counts. Whole runs of lines are searched at once and only the lines that may hold what
    is sought are decoded: a result line's marker, an error's name, the last line a
    --metric matches, the first an --abort-pattern matches."""
    scan = Scan()
    last = b""
    metric_in = _Search(metric) if metric is not None else None
    aborts_in = [_Search(pattern) for pattern in aborts]
    for block, whole in _blocks(path, offset, _SCAN_TAIL):
        last = _last_line(block) or last
        if not scan.result_in_output:
            scan.result_in_output = any(
                script_result_line(raw.decode("utf-8", "replace")) is not None
                for raw in _result_candidates(block)
            )
        if not whole:  # a line's end: what came before a match there is unknown
            continue
        candidates = {found for word in _ERROR_WORDS for found in _lines_with(block, word)}
        for _, raw in sorted(candidates):  # in the order of the output
            line = raw.decode("utf-8", "replace")
            if _is_error_line(line):
                scan.last_error = line.strip()
        if metric_in is None and (scan.abort_line is not None or not aborts_in):
            continue
        text = without_terminal_codes(block.replace(b"\r", b"\n").decode("utf-8", "replace"))
        if metric_in is not None and metric_in.may_match(text):
            for line in reversed(text.split("\n")):  # the last match counts
                if line.strip() and (found := list(metric_in.pattern.finditer(line))):
                    scan.metric = found[-1].group(1) if found[-1].groups() else found[-1].group(0)
                    break
        if scan.abort_line is None and any(search.may_match(text) for search in aborts_in):
            lines = (line for line in text.split("\n") if line.strip())
            scan.abort_line = next(
                (line.strip() for line in lines if any(a.search(line) for a in aborts)), None
            )
    scan.last_words = last.decode("utf-8", "replace")
    last = b""
    for block, _ in _blocks(stdout, 0, _RESULT_TAIL):
        last = _last_line(block) or last
        for raw in _result_candidates(block):
            line = raw.decode("utf-8", "replace")
            result = script_result_line(line)
            if result is not None:  # a logger's or a progress bar's text before it is no matter
                scan.result_lines += 1
                scan.last_result = result
    scan.last_line = without_terminal_codes(last.decode("utf-8", "replace"))
    return scan


_LINE_ALONE = ("\\A", "\\Z", "(?<", "(?=", "(?!", "(?-")
"""What makes a pattern see a line alone otherwise than inside a run of lines: the text's
ends, a lookaround (it would see the neighbouring line), a scoped flag that unsets `(?m)`."""


class _Search:
    """A pattern that is matched line by line, searched first in a run of lines as a whole:
    with `^` and `$` at each line's ends, a match of a line is a match there too, so a run
    where it finds none needs no look at its lines. A pattern with one of _LINE_ALONE is
    looked for in every line."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        alone = any(token in pattern.pattern for token in _LINE_ALONE)
        self._in_lines = None if alone else re.compile(pattern.pattern, pattern.flags | re.M)

    def may_match(self, text: str) -> bool:
        return self._in_lines is None or self._in_lines.search(text) is not None


def _blocks(path: Path, offset: int, tail: int) -> Iterator[tuple[bytes, bool]]:
    r"""The output of PATH from OFFSET as runs of whole lines, read in chunks, in bounded
    memory whatever the output (none when it cannot be read), each with whether its lines
    are whole; of a longer output its last TAIL bytes. The line cut where they start comes
    first, not whole: the last _LINE_KEEP bytes of it after _CUT_MARK. It may be the last
    line, whose number or result line counts.

    A line ends at `\n` or at `\r`, as for Java's readLine (so each update of a progress bar
    is a line of its own); a line longer than twice _LINE_KEEP comes back as its first and
    last _LINE_KEEP bytes (the start holds a result line or an error name, the end the number
    the quality is read from).
    """
    try:
        log = open(path, "rb")
    except OSError:
        return
    with log:
        start = max(offset, os.fstat(log.fileno()).st_size - tail)
        inside_a_line = False  # START cuts a line
        if start > offset:
            log.seek(start - 1)
            inside_a_line = log.read(1) not in (b"\n", b"\r")
        log.seek(start)
        pending = b""
        while chunk := log.read(_SCAN_CHUNK):
            if inside_a_line:
                ends = [end for end in (chunk.find(b"\n"), chunk.find(b"\r")) if end >= 0]
                if not ends:
                    pending = (pending + chunk)[-_LINE_KEEP:]
                    continue
                if line_end := (pending + chunk[: min(ends)])[-_LINE_KEEP:]:
                    yield _CUT_MARK + line_end + b"\n", False
                chunk, inside_a_line, pending = chunk[min(ends) + 1 :], False, b""
            data = pending + chunk
            cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
            if cut < 0:
                pending = data
                if len(pending) > 2 * _LINE_KEEP:
                    pending = pending[:_LINE_KEEP] + pending[-_LINE_KEEP:]
                continue
            yield data[: cut + 1], True
            pending = data[cut + 1 :]
        if pending:
            yield (_CUT_MARK + pending, False) if inside_a_line else (pending, True)


def _lines_with(block: bytes, word: bytes) -> Iterator[tuple[int, bytes]]:
    """(where it starts, line) of each line of BLOCK that holds WORD, found by bytes.find
    rather than line by line."""
    at = block.find(word)
    while at >= 0:
        start, end = _line_around(block, at)
        yield start, block[start:end]
        at = block.find(word, end)


def _has_control(data: bytes) -> bool:
    """Whether DATA holds one of _CONTROL_BYTES (bytes.translate: 8 times a regex's speed)."""
    return len(data.translate(None, _CONTROL_BYTES)) != len(data)


def _result_candidates(block: bytes) -> Iterator[bytes]:
    """The lines of BLOCK that may hold a result line: those with a marker, also once the
    terminal codes and control characters of a line that has some are taken out."""
    if not _has_control(block):
        return _lines_matching(block, _RESULT_MARK)
    if not _RESULT_MARK.search(_TERMINAL_BYTES.sub(b"", block)):  # a coloured log: at once
        return iter(())
    return (
        line
        for line in re.split(rb"[\r\n]", block)
        if _RESULT_MARK.search(line)
        or (_has_control(line) and _RESULT_MARK.search(_TERMINAL_BYTES.sub(b"", line)))
    )


def _lines_matching(block: bytes, pattern: re.Pattern[bytes]) -> Iterator[bytes]:
    """Each line of BLOCK in which PATTERN matches, in order, searched in BLOCK as a whole."""
    found = pattern.search(block)
    while found is not None:
        start, end = _line_around(block, found.start())
        yield block[start:end]
        found = pattern.search(block, end)


def _line_around(block: bytes, at: int) -> tuple[int, int]:
    """Where the line of BLOCK that holds the byte at AT starts and ends."""
    start = max(block.rfind(b"\n", 0, at), block.rfind(b"\r", 0, at)) + 1
    ends = [end for end in (block.find(b"\n", at), block.find(b"\r", at)) if end >= 0]
    return start, min(ends) if ends else len(block)


def _last_line(block: bytes) -> bytes:
    """The last line of BLOCK with anything but blanks on it; b"" when there is none."""
    text = block.rstrip()
    return text[max(text.rfind(b"\n"), text.rfind(b"\r")) + 1 :]


def _is_error_line(line: str) -> bool:
    """`ValueError: ...`, `torch.OutOfMemoryError: ...`, `KeyboardInterrupt`: a traceback's end."""
    name = line.strip().split(":", 1)[0]
    return name.endswith(_ERROR_ENDINGS) and _ERROR_NAME.fullmatch(name) is not None


def read_report(run_dir: Path, snapshot: bytes | None = None) -> dict[str, object] | None:
    """result.json as smac_bridge.report() left it, or None; SNAPSHOT: the file as the
    script left it, before its leftovers (which may report too) were stopped."""
    if snapshot is None:
        data = read_json_object(RunDir(run_dir).result)
    else:
        try:
            data = json.loads(snapshot.decode("utf-8"))
        except ValueError:  # b"": none (a UnicodeDecodeError is a ValueError too)
            data = None
    if not isinstance(data, dict):
        return None
    return data if data.get("status") in STATUSES else None


def same_report(saved: dict[str, object], line_status: str, line_quality: float | None) -> bool:
    """Whether result.json holds the report the last result line printed: report() prints a
    quality that is not finite as UNSAT (and the line's values without their commas), and a
    finite one in full. A partial report prints no line, and a line the script printed
    after a report of its own holds another quality: either line stays its result."""
    if saved.get("partial"):
        return False
    quality = to_float(str(saved.get("quality")))
    finite = quality is not None and math.isfinite(quality)
    if saved["status"] == line_status:
        return not finite or quality == line_quality
    return saved["status"] == "SAT" and line_status == "UNSAT" and not finite


def to_float(text: str | None) -> float | None:
    """A number as a script prints one. Python's float() also takes `1_000` and non-ASCII
    digits, which Java SMAC and the other readers of a result would refuse."""
    if text is None or not text.isascii() or "_" in text:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None
