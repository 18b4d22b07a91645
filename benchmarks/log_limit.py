"""What `smac-bridge wrap --log-limit` costs a script that floods its output, and what it saves.

A script writes SIZE MB of 30-byte lines as fast as it can, then its result; the wrapper runs
it with the default limit (256 MB), a small one (10 MB) and none (0). Measured per setting:
the wrapper's wall time from start to result line, and the bytes its two logs take on disk
(the script's log and its stdout's copy). Reproduce with:

    .venv/bin/python benchmarks/log_limit.py --sizes 100 600 --reps 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOD = """
import sys
line = b"x" * 29 + b"\\n"
block = line * 4096
for _ in range({blocks}):
    sys.stdout.buffer.write(block)
sys.stdout.buffer.flush()
print("val_error 0.25")
"""


def measure(size_mb: int, limit: str) -> tuple[float, int]:
    """Seconds the wrapper took and bytes its logs hold, for SIZE_MB of output under LIMIT."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "flood.py"
        script.write_text(FLOOD.format(blocks=size_mb * 1_000_000 // (30 * 4096)))
        run_dir = Path(folder) / "run"
        argv = [sys.executable, "-m", "smac_bridge.cli", "wrap", "--gpus", "none"]
        argv += ["--log-limit", limit, "--cmd", f'"{sys.executable}" "{script}"']
        argv += ["no_instance", "0", "600", "2147483647", "-1"]
        env = {**os.environ, "SMAC_BRIDGE_RUN_DIR": str(run_dir)}
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
        assert "SAT" in done.stdout and "0.25" in done.stdout, done.stdout
        logs = ("process_output.log", "process_stdout.log")
        return seconds, sum((run_dir / name).stat().st_size for name in logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 600])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print("| output, MB | --log-limit | wrapper wall time, s (median) | logs on disk, MB |")
    print("|---|---|---|---|")
    for size in args.sizes:
        for limit in ("0", "256", "10"):
            runs = [measure(size, limit) for _ in range(args.reps)]
            seconds = statistics.median(run[0] for run in runs)
            disk = runs[-1][1] / 1e6
            print(f"| {size} | {limit} | {seconds:.2f} | {disk:.0f} |")


if __name__ == "__main__":
    main()
