"""What `smac-bridge wrap` costs per trial, beyond running the training script itself.

Runs a no-op script directly and through the wrapper (interleaved, so load drifts hit both),
plus the import of the wrapper module alone, and prints medians. Reproduce with:

    .venv/bin/python benchmarks/wrapper_overhead.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_time_ms(python: str, module: str, env: dict[str, str]) -> float:
    """Cumulative import time of `module` as reported by `python -X importtime`."""
    proc = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {module}"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    for line in proc.stderr.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) == 3 and fields[2] == module:
            return int(fields[1]) / 1000
    raise RuntimeError(f"no import time for {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per case (default 20)")
    args = parser.parse_args()
    python = sys.executable
    bin_dir = Path(python).parent
    smac_bridge = shutil.which("smac-bridge", path=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    wrap = [smac_bridge] if smac_bridge else [python, "-m", "smac_bridge.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMAC_BRIDGE", "AEATK"))}
    with tempfile.TemporaryDirectory() as tmp:
        noop = Path(tmp) / "noop.py"
        noop.write_text("print(0.5)\n")
        call = ["no_instance", "0", "5.0", "2147483647", "-1", "-x", "1"]
        cases = {
            "python noop.py": [python, str(noop)],
            "smac-bridge wrap --cmd 'python noop.py'": [
                *wrap, "wrap", "--cmd", f'"{python}" "{noop}"', "--gpus", "none",
                "--runs-dir", str(Path(tmp) / "runs"), *call,
            ],
            "python -c 'import smac_bridge.wrapper'": [python, "-c", "import smac_bridge.wrapper"],
            "python -c pass": [python, "-c", "pass"],
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in cases}
        for argv in cases.values():
            timed(argv, env)  # warm the file cache
        for _ in range(args.runs):
            for name, argv in cases.items():
                times[name].append(timed(argv, env))
        imports = [import_time_ms(python, "smac_bridge.wrapper", env) for _ in range(args.runs)]
    base = statistics.median(times["python noop.py"])
    print(f"{args.runs} runs each, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    print(f"| {'case':<42} | median s | p90 s  | vs python noop.py |")
    print(f"|{'-' * 44}|----------|--------|-------------------|")
    for name, values in times.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"| {name:<42} | {median:8.3f} | {p90:6.3f} | {median - base:+17.3f} |")
    print(
        f"\n`python -X importtime -c 'import smac_bridge.wrapper'`: cumulative "
        f"{statistics.median(imports):.1f} ms (median)"
    )
    heavy = subprocess.run(
        [python, "-c", "import sys, smac_bridge.wrapper; print(sorted({m.split('.')[0] "
         "for m in sys.modules} & {'smac', 'ConfigSpace', 'dask', 'rich', 'click', 'numpy'}))"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    heavy = heavy.strip("[]") or "none"
    print(f"heavy modules imported by the wrapper: {heavy}")


if __name__ == "__main__":
    main()
