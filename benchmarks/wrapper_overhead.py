"""What a trial costs beyond running the training script itself.

Part 1, `smac-bridge wrap` as a process (what Java SMAC, and a worker on the process path,
pays per trial): a no-op script (`print(0.5)`) run directly and through
`smac-bridge wrap --cmd "python noop.py"` with a full SMAC 2.10 call, interleaved so that
load drifts hit every case; wall time and CPU time (of the process and everything it waited
for, from wait4, which load inflates far less than wall time); plus the import of the wrapper
module alone and `python -X importtime`. Python writes and reads its bytecode cache as in a
user's installation; one more case runs the wrapper with PYTHONDONTWRITEBYTECODE=1.

Part 2, a whole launch: `smac-bridge launch --parallel 1` of N runs of the same no-op script,
with the wrapper run inside the worker (what a `smac-bridge wrap` algo gets) and as a process
(`env smac-bridge wrap ...`, which the worker does not take for its own wrapper), against
running the script N times directly. Per-trial overhead = the median time from one trial's
start to the next one's (the records' `started`) minus the median direct run, so the
worker's start-up is left out. `smac-facade = random` by default, so that SMAC3's model (its
asks cost what they cost whoever calls them) stays out; `--facade auto` measures with it.

    .venv/bin/python benchmarks/wrapper_overhead.py --runs 20 --launch-runs 40 --launches 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = {"smac", "ConfigSpace", "dask", "rich", "click", "numpy", "psutil"}


def timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ARGV (CPU of it and of what it waited for)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{argv} exited with {process.returncode}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


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


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.1f}"


def wrapper_process(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> None:
    python = sys.executable
    smac_bridge = shutil.which("smac-bridge", path=str(Path(python).parent))
    wrap = [smac_bridge] if smac_bridge else [python, "-m", "smac_bridge.cli"]
    noop = tmp / "noop.py"
    call = ["no_instance", "0", "5.0", "2147483647", "-1", "-x", "1"]
    cases = {
        "python noop.py": [python, str(noop)],
        "smac-bridge wrap --cmd 'python noop.py'": [
            *wrap, "wrap", "--cmd", f'"{python}" "{noop}"', "--gpus", "none",
            "--runs-dir", str(tmp / "runs"), *call,
        ],
        "python -c 'import smac_bridge.wrapper'": [python, "-c", "import smac_bridge.wrapper"],
        "python -c pass": [python, "-c", "pass"],
    }  # fmt: skip
    uncached = "smac-bridge wrap, PYTHONDONTWRITEBYTECODE=1"
    cases[uncached] = cases["smac-bridge wrap --cmd 'python noop.py'"]
    envs = {name: env for name in cases}
    envs[uncached] = {**env, "PYTHONDONTWRITEBYTECODE": "1"}  # compiles the package each time
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    for argv in cases.values():
        timed(argv, env)  # warm the file cache and write the bytecode cache
    for _ in range(args.runs):
        for name, argv in cases.items():
            wall, cpu = timed(argv, envs[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
    imports = [import_time_ms(python, "smac_bridge.wrapper", env) for _ in range(args.runs)]
    base = statistics.median(walls["python noop.py"])
    base_cpu = statistics.median(cpus["python noop.py"])
    print(f"## `smac-bridge wrap` as a process: {args.runs} runs each\n")
    print(f"| {'case':<46} | median ms | p90 ms | vs noop ms | CPU ms | CPU vs noop |")
    print(f"|{'-' * 48}|-----------|--------|------------|--------|-------------|")
    for name, values in walls.items():
        median, p90 = statistics.median(values), statistics.quantiles(values, n=10)[-1]
        cpu = statistics.median(cpus[name])
        print(
            f"| {name:<46} | {median * 1e3:9.1f} | {p90 * 1e3:6.1f} | "
            f"{(median - base) * 1e3:+10.1f} | {cpu * 1e3:6.1f} | {(cpu - base_cpu) * 1e3:+11.1f} |"
        )
    print(
        f"\n`python -X importtime -c 'import smac_bridge.wrapper'`: cumulative "
        f"{statistics.median(imports):.1f} ms (median)"
    )
    heavy = subprocess.run(
        [python, "-c", "import sys, smac_bridge.wrapper; print(' '.join(sorted({m.split('.')[0] "
         f"for m in sys.modules}} & {HEAVY!r})))"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"heavy modules imported by the wrapper: {heavy or 'none'}\n")


def write_launch(folder: Path, runs: int, facade: str, in_process: bool) -> Path:
    """A scenario of RUNS runs of the no-op script through `smac-bridge wrap`."""
    folder.mkdir(parents=True)
    (folder / "noop.py").write_text("print(0.5)\n")
    (folder / "space.pcs").write_text("x [0, 1] [0.5]\ny [0, 1] [0.5]\n")
    algo = f'smac-bridge wrap --cmd "{sys.executable} noop.py" --gpus none'
    scenario = folder / "noop.txt"
    scenario.write_text(
        f"algo = {algo if in_process else 'env ' + algo}\nexecdir = {folder}\n"
        f"paramfile = space.pcs\nrun_obj = quality\ndeterministic = true\n"
        f"runcount_limit = {runs}\nsmac-facade = {facade}\noutdir = {folder / 'out'}\n"
    )
    return scenario


def launch_times(scenario: Path, env: dict[str, str]) -> tuple[list[float], list[float], float]:
    """Run a 1-worker launch; per trial the time to the next start, the idle gap before it,
    and the launch's whole CPU time."""
    argv = [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
    _, cpu = timed([*argv, "--parallel", "1", "--gpus", "none"], env, cwd=scenario.parent)
    records = []
    for path in sorted((scenario.parent / "out" / "noop").glob("runs-*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    records.sort(key=lambda record: record["started"])
    cycles = [b["started"] - a["started"] for a, b in zip(records, records[1:], strict=False)]
    gaps = [b["started"] - a["ended"] for a, b in zip(records, records[1:], strict=False)]
    return cycles, gaps, cpu


def launches(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> None:
    python = sys.executable
    noop = tmp / "noop.py"
    direct: list[float] = []
    results: dict[str, tuple[list[float], list[float], list[float]]] = {
        "wrapper in the worker": ([], [], []),
        "wrapper as a process": ([], [], []),
    }
    for rep in range(args.launches):
        for _ in range(args.launch_runs):
            direct.append(timed([python, str(noop)], env)[0])
        for name, in_process in (("wrapper in the worker", True), ("wrapper as a process", False)):
            folder = tmp / f"launch-{rep}-{in_process}"
            scenario = write_launch(folder, args.launch_runs, args.facade, in_process)
            cycles, gaps, cpu = launch_times(scenario, env)
            results[name][0].extend(cycles)
            results[name][1].extend(gaps)
            results[name][2].append(cpu / args.launch_runs)
            shutil.rmtree(folder)
    base = statistics.median(direct)
    print(
        f"## a 1-worker launch of {args.launch_runs} no-op runs, {args.launches} launches each, "
        f"smac-facade = {args.facade}\n"
    )
    print("| case | ms per trial | overhead vs direct ms | idle gap ms | launch CPU s per run |")
    print("|---|---|---|---|---|")
    print(f"| python noop.py, directly | {base * 1e3:.1f} | +0.0 | – | – |")
    for name, (cycles, gaps, cpus) in results.items():
        cycle = statistics.median(cycles)
        print(
            f"| launch, {name} | {cycle * 1e3:.1f} | {(cycle - base) * 1e3:+.1f} | "
            f"{median_ms(gaps)} | {statistics.median(cpus):.3f} |"
        )


def two_or_more(text: str) -> int:
    """A count of runs with a median and a spread: at least two."""
    if int(text) < 2:
        raise argparse.ArgumentTypeError(f"{text}: a median and a 90th centile need 2 runs")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=two_or_more, default=20, help="runs per wrap case (>= 2)")
    parser.add_argument("--launch-runs", type=two_or_more, default=40, help="runs per launch")
    parser.add_argument("--launches", type=int, default=3, help="launches per case")
    parser.add_argument("--facade", default="random", help="smac-facade of the launches")
    parser.add_argument("--skip-launch", action="store_true", help="part 1 only")
    args = parser.parse_args()
    # What a user's installation does: Python caches the package's bytecode (a shell that sets
    # PYTHONDONTWRITEBYTECODE makes each process compile it; part 1 measures that too).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMAC_BRIDGE", "AEATK")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "noop.py").write_text("print(0.5)\n")
        wrapper_process(args, env, tmp)
        if not args.skip_launch:
            launches(args, env, tmp)
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end")


if __name__ == "__main__":
    main()
