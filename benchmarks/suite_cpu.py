"""Where the test suite's CPU time goes: every Python process a pytest run starts, by kind.

The suite is CPU-bound on a small machine, so its wall time is its CPU time over the cores.
This runs pytest (arguments after `--`, default: the whole suite on four processes) with a
`sitecustomize` on PYTHONPATH that makes every Python process it starts (the test processes,
each launch, worker, wrapper and target script) append, at its exit, its command, its own CPU
seconds, those of the children it reaped, its wall time and the test that started it
(PYTEST_CURRENT_TEST). Then it prints the CPU by kind of process and the tests whose
launches cost the most. A launch's CPU holds that of the workers it forked and the trials
they ran (the children it reaped), whose scripts have rows of their own too; a process killed
with SIGKILL writes nothing, and only its reaper's children time holds it.

    .venv/bin/python benchmarks/suite_cpu.py -- -n 4 -q
    .venv/bin/python benchmarks/suite_cpu.py --top 20 -- -n 2 -q tests/test_launch.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ACCOUNTING = """
import atexit, json, os, sys, time
_started, _pid = time.monotonic(), os.getpid()
def _account():
    if os.getpid() != _pid:  # a forked child that returns through this exit: its parent's
        return
    path = os.environ.get("SMAC_BRIDGE_SUITE_CPU")  # None where a test cleared the environment
    if path is None:
        return
    times = os.times()
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps({
            "argv": list(getattr(sys, "orig_argv", sys.argv)),
            "cpu": times[0] + times[1],
            "children": times[2] + times[3],
            "wall": time.monotonic() - _started,
            "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        }) + "\\n")
atexit.register(_account)
"""

LAUNCHING = ("launch", "doe", "worker")
"""smac-bridge commands whose process imports SMAC3 and runs trials."""


def kind(argv: list[str]) -> str:
    """What a process was: `smac-bridge COMMAND`, pytest, a script by name, or its command."""
    if "smac_bridge.cli" in argv:
        after = argv[argv.index("smac_bridge.cli") + 1 :]
        return f"smac-bridge {after[0] if after else ''}".strip()
    if any(Path(word).name == "smac-bridge" for word in argv[:2]):
        return f"smac-bridge {argv[2] if len(argv) > 2 else ''}".strip()
    if "pytest" in argv or "exec(eval(" in " ".join(argv):  # pytest-xdist's test processes
        return "pytest and its test processes"
    scripts = [word for word in argv[1:] if word.endswith(".py") and not word.startswith("-")]
    if scripts:
        return f"script {Path(scripts[0]).name}"
    if "-m" in argv:
        return f"python -m {argv[argv.index('-m') + 1]}"
    return "python -c ..." if "-c" in argv else " ".join(argv[:2])


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A Markdown table."""
    lines = [header, tuple("---" for _ in header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="tests to list by launch CPU")
    parser.add_argument("pytest_args", nargs="*", default=["-n", "4", "-q"])
    args = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="suite-cpu-") as folder:
        (Path(folder) / "sitecustomize.py").write_text(ACCOUNTING, encoding="utf-8")
        log = Path(folder) / "processes.jsonl"
        env = dict(os.environ, SMAC_BRIDGE_SUITE_CPU=str(log))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [folder, env.get("PYTHONPATH")]))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args.pytest_args],
            cwd=repo,
            env=env,
        )
        wall = time.monotonic() - started
        processes = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    top = max(processes, key=lambda p: p["wall"] if "pytest" in p["argv"] else 0)
    total = top["cpu"] + top["children"]
    cpu: defaultdict[str, float] = defaultdict(float)
    count: Counter[str] = Counter()
    by_test: defaultdict[str, float] = defaultdict(float)
    launches: Counter[str] = Counter()
    for process in processes:
        what = kind(process["argv"])
        own = process["cpu"] if what.startswith("pytest") else process["cpu"] + process["children"]
        cpu[what] += own
        count[what] += 1
        if what.split(" ")[-1] in LAUNCHING:
            by_test[process["test"]] += own
            launches[process["test"]] += 1
    print(f"pytest {' '.join(args.pytest_args)}: exit {done.returncode}, {wall:.0f} s wall,")
    print(f"{total:.0f} s of CPU in all ({total / wall:.2f} CPUs busy on average)\n")
    kinds = sorted(cpu, key=cpu.__getitem__, reverse=True)
    print(
        table(
            [(k, str(count[k]), f"{cpu[k]:.0f}", f"{cpu[k] / total:.0%}") for k in kinds[:15]],
            ("process", "count", "CPU s", "of all"),
        )
    )
    print(f"\nThe {args.top} tests whose launches, designs and workers took the most CPU:\n")
    tests = sorted(by_test, key=by_test.__getitem__, reverse=True)[: args.top]
    print(
        table(
            [(t, str(launches[t]), f"{by_test[t]:.1f}") for t in tests],
            ("test", "launches", "CPU s"),
        )
    )


if __name__ == "__main__":
    main()
